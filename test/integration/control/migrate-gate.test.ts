// Stopping a run at the migrate gate. Every cluster runs the new release and is live, and the
// migration has not run, so the schema is as it was. The README ("How it fails safe") promises that
// an abort stops at a gate and rolls back, and that a cancel runs the rollback and ends Cancelled:
// that holds at the migrate gate as at the promote gates. Rejecting the migrate gate only skips the
// migration (the rollout stays; the run fails, saying the migration did not run).
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { abortSignal, rejectUpdate, statusQuery } from '../../../src/workflows/messages';
import type { DeploymentStatus } from '../../../src/workflows/state';
import { FakeFleet } from '../../support/fake-fleet';
import { endOf, withRun, type RunEnd, type RunHandle } from '../../support/runs';
import { useTemporal } from '../../support/temporal';
import { waitForStatus } from '../../support/wait';

const temporal = useTemporal();

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];

function migratingPlan(fleet: FakeFleet) {
  return fleet.plan({
    commands: {
      install: '/opt/app/bin/install {release}',
      currentRelease: '/opt/app/bin/current',
      migrate: '/opt/app/bin/migrate {release}',
    },
    migration: { host: 'blue-1' },
    gates: { migrate: { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' } },
  });
}

async function atMigrateGate(fleet: FakeFleet, fn: (h: RunHandle) => Promise<void>): Promise<RunEnd & { status: DeploymentStatus }> {
  return withRun(temporal, createActivities(fleet.deps()), migratingPlan(fleet), async (h) => {
    await waitForStatus(h, 'the migrate gate', (s) => s.pendingGate?.gate === 'migrate', 30_000);
    expect([...fleet.releases.values()]).toEqual(['v2', 'v2', 'v2', 'v2']);
    await fn(h);
    const end = await endOf(h);
    return { ...end, status: await h.query(statusQuery) };
  });
}

describe('stopping a run at the migrate gate', () => {
  it('abort: rolls every cluster back to the previous release, most recent first, and never migrates', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { status, error } = await atMigrateGate(fleet, (h) => h.signal(abortSignal, { by: 'carol', reason: 'change freeze' }));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(status.outcome).toBe('rolled-back');
    expect(status.reason).toBe('aborted by carol: change freeze (during migrate). Rolled back: blue, then green run v1 and are live again');
    expect(status.failure).toMatchObject({ kind: 'abort', step: 'migrate' });
    expect(status.migrated).toBe(false);
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
    expect(fleet.changes.some((c) => c.startsWith('migrate:'))).toBe(false);
    expect([...fleet.pools.live.values()].every((s) => s.admin === 'ready')).toBe(true);
  });

  it('cancel: the rollback runs to the end and the run ends Cancelled', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { status, error } = await atMigrateGate(fleet, async (h) => {
      await h.cancel();
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
    expect(status.cancelled).toBe(true);
    expect(status.failure).toMatchObject({ kind: 'cancel', step: 'migrate' });
    expect(status.rollback?.clusters.map((c) => [c.cluster, c.outcome])).toEqual([
      ['blue', 'rolled-back'],
      ['green', 'rolled-back'],
    ]);
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
    expect(fleet.changes.some((c) => c.startsWith('migrate:'))).toBe(false);
  });

  it('reject: the migration does not run, the rollout stays, and the run says so', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { status } = await atMigrateGate(fleet, async (h) => {
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'migrate', release: 'v2', by: 'dba', reason: 'not tonight' }] });
    });
    expect(status.outcome).toBe('failed');
    expect(status.reason).toMatch(
      /^migrate failed: gate migrate rejected by dba: not tonight\. The migration did not run; every cluster runs v2 and is live\./,
    );
    expect([...fleet.releases.values()]).toEqual(['v2', 'v2', 'v2', 'v2']);
  });
});
