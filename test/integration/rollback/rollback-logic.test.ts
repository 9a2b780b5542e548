// The failure policy's ordering on the in-memory fleet, in seconds (the real-lab files prove it under load).
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { blueGreenDeployment } from '../../../src/workflows';
import type { DeploymentResult } from '../../../src/workflows/state';
import { FakeFleet } from '../../support/fake-fleet';
import { connectClient, uniqueId, withWorker, type TemporalHandles } from '../../support/temporal';

let temporal: TemporalHandles;
beforeAll(async () => {
  temporal = await connectClient();
});
afterAll(async () => {
  await temporal?.close();
});

async function failingRun(fleet: FakeFleet): Promise<DeploymentResult> {
  const taskQueue = uniqueId('logic');
  return withWorker(taskQueue, createActivities(fleet.deps()), async () => {
    const err = await temporal.client.workflow
      .execute(blueGreenDeployment, { taskQueue, workflowId: uniqueId('logic'), args: [fleet.plan()], workflowExecutionTimeout: '2 minutes' })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    return ((err as WorkflowFailedError).cause as unknown as { details: unknown[] }).details[0] as DeploymentResult;
  });
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
