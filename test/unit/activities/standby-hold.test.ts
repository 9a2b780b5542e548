// Step 2's hold: with HAProxy, each host is out of the standby pool's rotation while it restarts.
import { describe, expect, it } from 'vitest';
import { deployFleet } from '../../../src/activities/fleet';
import type { DeployInput } from '../../../src/activities/types';
import { parsePlan } from '../../../src/plan/validate';
import { hostRefs } from '../../../src/workflows/preflight-rules';
import { FakeFleet } from '../../support/fake-fleet';

function green(fleet: FakeFleet, hold: boolean): DeployInput {
  const plan = parsePlan(fleet.plan());
  for (const h of ['green-1', 'green-2']) fleet.pools.standby.get(h)!.admin = 'ready'; // as step 1 leaves them
  return {
    cluster: 'green',
    hosts: hostRefs(plan, 'green'),
    commands: { install: plan.commands.install, currentRelease: plan.commands.currentRelease },
    release: 'v2',
    parallelism: 2,
    installTimeoutSeconds: 60,
    health: { timeoutSeconds: 0.3, intervalMs: 20 },
    ...(hold ? { standbyHold: plan.loadBalancer } : {}),
  };
}

const standbyStates = (fleet: FakeFleet) => ['green-1', 'green-2'].map((h) => `${h}:${fleet.pools.standby.get(h)!.admin}`);

describe('deployFleet with standbyHold', () => {
  it('sets a host to maint in standby before its install and back to ready once it is healthy', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    const report = await deployFleet(fleet.deps(), green(fleet, true), { stopping: () => false, done: new Set() });
    expect(report.firstFailure).toBeUndefined();
    expect(standbyStates(fleet)).toEqual(['green-1:ready', 'green-2:ready']);
    for (const h of ['green-1', 'green-2']) {
      const mine = fleet.changes.filter((c) => c.includes(h));
      expect(mine).toEqual([`lb:standby:${h}:maint`, `install:${h}:v2`, `lb:standby:${h}:ready`]);
    }
  });

  it('leaves a host that never becomes healthy held in maint; the healthy one goes back to ready', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    fleet.brokenOn.set('green-2', 'v2');
    const report = await deployFleet(fleet.deps(), green(fleet, true), { stopping: () => false, done: new Set() });
    expect(report.firstFailure).toBe('green-2');
    expect(standbyStates(fleet)).toEqual(['green-1:ready', 'green-2:maint']);
  });

  it('changes nothing in the pools without it (nginx plans, and runs started before it)', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    await deployFleet(fleet.deps(), green(fleet, false), { stopping: () => false, done: new Set() });
    expect(fleet.changes.filter((c) => c.startsWith('lb:'))).toEqual([]);
    expect(standbyStates(fleet)).toEqual(['green-1:ready', 'green-2:ready']);
  });
});
