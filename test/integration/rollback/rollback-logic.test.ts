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
