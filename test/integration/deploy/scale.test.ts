// A deployment's history grows with clusters and steps, not with hosts: 2 clusters of 500 hosts on
// the in-memory fleet, forward and rolled back, stay far below Temporal's 51,200-event limit, and
// the failure result stays far below its 2 MB payload limit.
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { FakeFleet } from '../../support/fake-fleet';
import { endOf, withRun } from '../../support/runs';
import { useTemporal } from '../../support/temporal';
import type { PlanInput } from '../../../src/plan/schema';

const temporal = useTemporal();

const PER_CLUSTER = 500;
const hosts = ['green', 'blue'].flatMap((c) => Array.from({ length: PER_CLUSTER }, (_, i) => `${c}-${i + 1}`));

async function deployAtScale(fleet: FakeFleet, extra: Partial<PlanInput> = {}) {
  return withRun(
    temporal,
    createActivities(fleet.deps()),
    fleet.plan({ parallelism: 64, ...extra }),
    async (handle) => {
      const { result, error, reason } = await endOf(handle);
      const { historyLength, historySize } = await handle.describe();
      return { result: result!, failure: error && reason, historyLength, historySize };
    },
    { workflowExecutionTimeout: '5 minutes' },
  );
}

describe('2 clusters of 500 hosts', () => {
  it('deploys every host with a history under 2,000 events', async () => {
    const fleet = new FakeFleet(hosts, 'v1');
    const run = await deployAtScale(fleet);
    console.log(`2x${PER_CLUSTER} deploy: ${run.historyLength} events, ${run.historySize} bytes of history`);
    expect(run.failure).toBeUndefined();
    expect(run.result.outcome).toBe('succeeded');
    expect(new Set(fleet.releases.values())).toEqual(new Set(['v2']));
    expect(run.historyLength).toBeLessThan(2000);
  });

  it('rolls back after the second cluster fails on many hosts, with a bounded history and failure payload', async () => {
    const fleet = new FakeFleet(hosts, 'v1');
    // Blue (second) fails on every host: hundreds of host errors to carry.
    for (const h of hosts.filter((x) => x.startsWith('blue'))) fleet.brokenOn.set(h, 'v2');
    const run = await deployAtScale(fleet);
    console.log(
      `2x${PER_CLUSTER} rollback: ${run.historyLength} events, ${run.historySize} bytes of history, failure result ${JSON.stringify(run.result).length} bytes`,
    );
    expect(run.result.outcome).toBe('rolled-back');
    expect(run.result.rollback?.clusters.map((c) => `${c.cluster}:${c.outcome}`)).toEqual(['blue:rolled-back', 'green:rolled-back']);
    expect(new Set(fleet.releases.values())).toEqual(new Set(['v1']));
    expect(run.historyLength).toBeLessThan(2000);
    // Far below the 2 MB payload limit, whatever the number of failing hosts.
    expect(JSON.stringify(run.result).length).toBeLessThan(512 * 1024);
  });

  it('bakes both clusters with a few events per sample, and a result far below the payload limit', async () => {
    const plain = await deployAtScale(new FakeFleet(hosts, 'v1'));
    const run = await deployAtScale(new FakeFleet(hosts, 'v1'), {
      bake: { seconds: 5, sampleSeconds: 1, thresholds: { max5xxRatio: 0.01, minRequests: 50 } },
    });
    expect(run.result.outcome).toBe('succeeded');
    const samples = (run.result.bakes ?? []).reduce((n, b) => n + b.samples, 0);
    // Per cluster: the window's opening read, then the samples; preflight reads the counters once.
    const reads = samples + 2 + 1;
    const perRead = (run.historyLength - plain.historyLength) / reads;
    console.log(
      `2x${PER_CLUSTER} with a 5 s bake: ${run.historyLength} events (${plain.historyLength} without), ${samples} samples, ` +
        `${perRead.toFixed(1)} events per reading; ${run.historySize} bytes of history; result ${JSON.stringify(run.result).length} bytes`,
    );
    expect(samples).toBeGreaterThanOrEqual(8);
    expect(perRead).toBeLessThanOrEqual(12);
    expect(JSON.stringify(run.result).length).toBeLessThan(1024 * 1024);
  });
});
