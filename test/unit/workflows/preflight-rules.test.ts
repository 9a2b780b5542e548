// Preflight's pure rules, which the workflow (step 0) and `bluegreen plan check` both apply.
import { describe, expect, it } from 'vitest';
import type { HostInspection } from '../../../src/activities/types';
import type { ServerState } from '../../../src/ports/lb';
import { parsePlan } from '../../../src/plan/validate';
import { fleetInspection, hostProblems, hostRefs, lbProblems } from '../../../src/workflows/preflight-rules';
import { FakeFleet } from '../../support/fake-fleet';

const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1'], 'v1');
const plan = parsePlan(fleet.plan());
const srv = (pool: ServerState['pool'], server: string, admin: ServerState['admin'], status: string): ServerState => ({
  pool,
  server,
  admin,
  status,
  sessions: 0,
});

describe('lbProblems', () => {
  it('accepts a host that is UP in the live pool and in maint in the standby pool', () => {
    expect(lbProblems([srv('live', 'green-1', 'ready', 'UP'), srv('standby', 'green-1', 'maint', 'MAINT')], 'green-1')).toEqual([]);
  });

  it('names a host missing from both backends once per backend', () => {
    expect(lbProblems([], 'green-1')).toEqual([
      'green-1 is not a server of the live backend',
      'green-1 is not a server of the standby backend',
    ]);
  });

  it('refuses a host that is down or draining in the live pool, saying its admin state and status', () => {
    const view = [srv('live', 'green-1', 'drain', 'DRAIN'), srv('standby', 'green-1', 'maint', 'MAINT')];
    expect(lbProblems(view, 'green-1')).toEqual(['green-1 is not UP in the live pool (admin drain, status DRAIN)']);
  });

  it('refuses a host already out of maint in the standby pool', () => {
    const view = [srv('live', 'green-1', 'ready', 'UP'), srv('standby', 'green-1', 'ready', 'UP')];
    expect(lbProblems(view, 'green-1')).toEqual(['green-1 is already in the standby pool (admin ready)']);
  });
});

describe('hostProblems', () => {
  const seen = (r: Partial<HostInspection>): HostInspection => ({ host: 'blue-1', ...r });

  it('accepts a healthy host on the expected release', () => {
    expect(hostProblems('v1', seen({ release: 'v1', healthy: true }))).toEqual([]);
  });

  it('names the release a host runs when it is not the expected one, whatever its health', () => {
    expect(hostProblems('v1', seen({ release: 'v0', healthy: false }))).toEqual(['blue-1 runs release "v0", the plan expects "v1"']);
  });

  it('gives the health reason of an unhealthy host on the right release', () => {
    expect(hostProblems('v1', seen({ release: 'v1', healthy: false, healthReason: 'status 503' }))).toEqual([
      'blue-1 is not healthy: status 503',
    ]);
  });

  it('reports a read error alone, naming the host once', () => {
    expect(hostProblems('v1', seen({ error: 'blue-1: connection refused' }))).toEqual(['blue-1: connection refused']);
    expect(hostProblems('v1', seen({ error: 'timed out' }))).toEqual(['blue-1: timed out']);
  });
});

describe('fleetInspection', () => {
  it('reads every host in plan order, with the plan command, a health timeout of at most 10 s and wide concurrency', () => {
    const input = fleetInspection(plan, 'v1');
    expect(input.hosts.map((h) => h.name)).toEqual(['green-1', 'green-2', 'blue-1']);
    expect(input.hosts).toEqual([...hostRefs(plan, 'green'), ...hostRefs(plan, 'blue')]);
    expect(input).toMatchObject({
      currentReleaseCommand: plan.commands.currentRelease,
      expectRelease: 'v1',
      healthTimeoutSeconds: 5,
      concurrency: 64,
    });
  });

  it('leaves expectRelease out when none is given (the recovery survey takes any release)', () => {
    expect('expectRelease' in fleetInspection(plan)).toBe(false);
  });
});
