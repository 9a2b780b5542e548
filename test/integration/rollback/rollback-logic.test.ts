// The failure policy's ordering on the in-memory fleet, in seconds (the real-lab files prove it under load).
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { DeploymentResult } from '../../../src/workflows/state';
import { FakeFleet } from '../../support/fake-fleet';
import { runOnFakeFleet } from '../../support/runs';
import { useTemporal } from '../../support/temporal';

const temporal = useTemporal();

async function failingRun(fleet: FakeFleet): Promise<DeploymentResult> {
  const { result, error } = await runOnFakeFleet(temporal, fleet);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return result!;
}

describe('the second cluster fails after the first went live', () => {
  it('restores blue (live again) before green leaves the live pool; then green, one cluster at a time', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    fleet.brokenOn.set('blue-2', 'v2');
    const result = await failingRun(fleet);
    expect(result.outcome).toBe('rolled-back');
    expect(result.failure).toMatchObject({ kind: 'failure', step: 'deploy', cluster: 'blue', host: 'blue-2' });
    expect(result.rollback?.clusters.map((c) => `${c.cluster}:${c.outcome}`)).toEqual(['blue:rolled-back', 'green:rolled-back']);
    const at = (change: string) => fleet.changes.lastIndexOf(change);
    // Blue back in the live pool, then green drained, reinstalled on v1 and put back.
    expect(at('lb:live:blue-2:ready')).toBeGreaterThan(at('install:blue-2:v1'));
    expect(at('lb:live:green-1:drain')).toBeGreaterThan(at('lb:live:blue-2:ready'));
    expect(at('install:green-1:v1')).toBeGreaterThan(at('lb:live:green-1:drain'));
    expect(at('lb:live:green-1:ready')).toBeGreaterThan(at('install:green-1:v1'));
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
    for (const pool of ['live', 'standby'] as const)
      for (const [h, s] of fleet.pools[pool]) expect(`${pool}/${h}:${s.admin}`).toBe(`${pool}/${h}:${pool === 'live' ? 'ready' : 'maint'}`);
    // What failed stays on the host after the rollback.
    expect(result.hosts.find((h) => h.host === 'blue-2')?.lastError).toMatch(/blue-2 did not become healthy on v2/);
  });
});

describe('a cluster that was not live when the run failed', () => {
  it('is held out of the standby pool from the rollback’s start, not host by host as each is reinstalled', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    fleet.smokeRelease = 'v1'; // green's smoke test fails on v2; on v1 it passes
    // One host at a time: green-2 waits while green-1 is reinstalled.
    const { result, error } = await runOnFakeFleet(temporal, fleet, { ...fleet.plan(), parallelism: 1 });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(result?.outcome).toBe('rolled-back');
    const standbyAt = (host: string, before: number) =>
      fleet.changes
        .slice(0, before)
        .filter((c) => c.startsWith(`lb:standby:${host}:`))
        .pop();
    // When the first reinstall starts, neither host (both still on v2) takes standby traffic.
    const reinstall = fleet.changes.indexOf('install:green-1:v1');
    expect(reinstall).toBeGreaterThan(-1);
    expect(standbyAt('green-1', reinstall)).toBe('lb:standby:green-1:maint');
    expect(standbyAt('green-2', reinstall)).toBe('lb:standby:green-2:maint');
    for (const h of ['green-1', 'green-2'])
      expect(fleet.changes.filter((c) => c.startsWith(`lb:standby:${h}:`) || c.startsWith(`install:${h}:`))).toEqual([
        `lb:standby:${h}:ready`, // step 1
        `lb:standby:${h}:maint`, // step 2 holds it while it installs v2
        `install:${h}:v2`,
        `lb:standby:${h}:ready`, // healthy on v2; the smoke test then fails
        `lb:standby:${h}:maint`, // the rollback holds the whole cluster (its reinstall sets maint again: no change)
        `install:${h}:v1`,
        `lb:standby:${h}:ready`, // healthy on v1: smoke-tested again
        `lb:standby:${h}:maint`, // back in the live pool, out of standby
      ]);
  });
});
