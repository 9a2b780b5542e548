// The smoke step's budget follows the plan: tests, their timeouts, hosts and the coverage mode.
import { describe, expect, it } from 'vitest';
import { activityOptions, smokeBudgetSeconds } from '../../../src/workflows/activity-calls';
import { planSchema, type PlanInput } from '../../../src/plan/schema';

function plan(hostsPerCluster: number, over: Partial<PlanInput> = {}) {
  const hosts = (c: string) =>
    Array.from({ length: hostsPerCluster }, (_, i) => ({
      name: `${c}-${i + 1}`,
      ssh: { host: `${c}${i + 1}.example.net`, port: 22, user: 'deploy' },
      healthUrl: `http://${c}${i + 1}.example.net:8080/health`,
    }));
  return planSchema.parse({
    environment: 'prod',
    release: 'v2',
    currentRelease: 'v1',
    order: ['green', 'blue'],
    clusters: { green: { hosts: hosts('green') }, blue: { hosts: hosts('blue').slice(0, 2) } },
    loadBalancer: {
      type: 'haproxy',
      runtimeApi: { socket: '/run/haproxy.sock' },
      liveBackend: 'live',
      standbyBackend: 'standby',
      standbyUrl: 'http://lb.example.net:8081',
    },
    commands: { install: 'deploy {release}', currentRelease: 'current' },
    smoke: [
      { path: '/a', expectStatus: 200, timeoutSeconds: 10 },
      { path: '/b', expectStatus: 200, timeoutSeconds: 5 },
    ],
    ...over,
  } satisfies PlanInput);
}

describe('smoke budget', () => {
  it('auto: every request at its full timeout, 8 at once, through the pool and then directly, plus 30 s', () => {
    // Pool: ceil(2 x 20 / 8) = 5 rounds x (10 + 5) s = 75; direct: ceil(20 / 8) = 3 x 15 = 45.
    expect(smokeBudgetSeconds(plan(20), 20)).toBe(75 + 45 + 30);
  });

  it('pool: no direct requests to budget for', () => {
    expect(smokeBudgetSeconds(plan(20, { smokeCoverage: { mode: 'pool' } }), 20)).toBe(75 + 30);
  });

  it("grows with hosts and tests; the activity timeout is the largest cluster's budget, the wait for UP in standby and 2 minutes", () => {
    const big = plan(500);
    expect(smokeBudgetSeconds(big, 500)).toBe(Math.ceil(1000 / 8) * 15 + Math.ceil(500 / 8) * 15 + 30);
    expect(activityOptions(big).smokeTest.startToCloseTimeout).toBe(
      `${smokeBudgetSeconds(big, 500) + big.health.timeoutSeconds + 120} seconds`,
    );
    expect(smokeBudgetSeconds(plan(2), 2)).toBe(15 + 15 + 30);
  });
});
