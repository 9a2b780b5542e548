// The bake in the workflow, on a real Temporal server with the in-memory fleet: a release that fails
// under live traffic is rolled back by the bake with its numbers; a good one bakes and succeeds.
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { resultOfFailedRun } from '../../../src/client/result';
import type { PlanInput } from '../../../src/plan/schema';
import { blueGreenDeployment } from '../../../src/workflows';
import type { DeploymentResult } from '../../../src/workflows/state';
import { abortSignal, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';

const temporal = useTemporal();

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
const bake = { seconds: 3, sampleSeconds: 1, thresholds: { max5xxRatio: 0.05, minRequests: 50 } };

async function run(fleet: FakeFleet, plan: PlanInput, deps = fleet.deps()): Promise<{ result: DeploymentResult; failed: boolean }> {
  const taskQueue = uniqueId('tq');
  return withWorker(taskQueue, createActivities(deps), async () => {
    try {
      const result = await temporal.client.workflow.execute(blueGreenDeployment, {
        taskQueue,
        workflowId: uniqueId('bake'),
        args: [plan],
        workflowExecutionTimeout: '2 minutes',
      });
      return { result, failed: false };
    } catch (err) {
      const result = err instanceof WorkflowFailedError ? resultOfFailedRun(err) : undefined;
      if (!result) throw err;
      return { result, failed: true };
    }
  });
}

const steps = (r: DeploymentResult) => r.steps.map((s) => `${s.step}${s.cluster ? `:${s.cluster}` : ''}`);

describe('bake after each cluster goes live', () => {
  it('a good release bakes each cluster for the window and succeeds', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { result } = await run(fleet, fleet.plan({ bake }));
    expect(result.outcome).toBe('succeeded');
    expect(result.reason).toBe('every cluster runs v2 and is live; baked green, blue for 3 s each');
    expect(steps(result)).toEqual([
      'preflight',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
      'bake:green',
      'standby:blue',
      'deploy:blue',
      'verify:blue',
      'live:blue',
      'bake:blue',
      'migrate',
    ]);
    expect(result.bakes?.map((b) => [b.cluster, b.outcome])).toEqual([
      ['green', 'passed'],
      ['blue', 'passed'],
    ]);
    for (const b of result.bakes ?? []) {
      expect(b.samples).toBeGreaterThanOrEqual(2);
      expect(b.samples).toBeLessThanOrEqual(4);
      expect(b.servers.every((s) => s.responses > 0 && s.r5xx === 0)).toBe(true);
    }
    expect(result.steps.find((s) => s.step === 'bake')!.ms).toBeGreaterThanOrEqual(3000);
  });

  it('a release failing a fifth of live requests is caught at the first sample with minRequests and rolled back, blue untouched', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    fleet.trafficFailures.set('v2', 0.2);
    const { result, failed } = await run(fleet, fleet.plan({ bake }));
    expect(failed).toBe(true);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(
      /^bake of green failed: green-1: 5xx 20% of 50 responses in \d+ s, limit 5%\. Rolled back: green runs v1 and is live again/,
    );
    expect(result.failure).toMatchObject({ kind: 'failure', step: 'bake', cluster: 'green' });
    expect(result.bakes).toHaveLength(1);
    expect(result.bakes![0]).toMatchObject({ cluster: 'green', outcome: 'breached', samples: 1 });
    expect(steps(result)).toEqual([
      'preflight',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
      'bake:green',
      'rollback:green',
    ]);
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
    expect(fleet.changes.filter((c) => c.includes('blue'))).toEqual([]);
    for (const h of HOSTS) expect(fleet.pools.live.get(h)?.admin).toBe('ready');
  });

  it('a breach in the last cluster’s bake rolls back both, the last one first', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    fleet.trafficFailures.set('blue-2@v2', 0.5);
    const { result } = await run(fleet, fleet.plan({ bake }));
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^bake of blue failed: blue-2: 5xx 50% of 50 responses/);
    expect(result.bakes?.map((b) => [b.cluster, b.outcome])).toEqual([
      ['green', 'passed'],
      ['blue', 'breached'],
    ]);
    expect(result.rollback?.clusters.map((c) => [c.cluster, c.outcome])).toEqual([
      ['blue', 'rolled-back'],
      ['green', 'rolled-back'],
    ]);
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
  });

  it('preflight refuses a bake when the LB gives no per-server counters, and changes nothing', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const deps = fleet.deps();
    const real = deps.lb;
    deps.lb = (cfg) => ({ ...real(cfg), readCounters: undefined });
    const { result } = await run(fleet, fleet.plan({ bake }), deps);
    expect(result.outcome).toBe('failed');
    expect(result.reason).toContain(
      'Preflight refused to start; nothing was changed:\n  - the bake cannot read per-server counters from the load balancer: fake LB does not count responses per server: a bake needs HAProxy',
    );
    expect(fleet.changes).toEqual([]);
  });

  it('counts only traffic since the window opened: 5xx the hosts answered before the deployment do not count', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    for (const h of HOSTS) fleet.counters.set(h, { responses: 1000, r5xx: 900 });
    const { result } = await run(fleet, fleet.plan({ bake }));
    expect(result.outcome).toBe('succeeded');
    expect(result.bakes?.every((b) => b.servers.every((s) => s.r5xx === 0))).toBe(true);
  });

  it('shows the bake live in the status query and Temporal Web, and an abort during it rolls back', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const taskQueue = uniqueId('tq');
    const { result, details, samplesSeen } = await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const plan = fleet.plan({ bake: { ...bake, seconds: 30 } });
      const handle = await temporal.client.workflow.start(blueGreenDeployment, {
        taskQueue,
        workflowId: uniqueId('bake'),
        args: [plan],
        workflowExecutionTimeout: '2 minutes',
      });
      let s = await handle.query(statusQuery);
      const deadline = Date.now() + 60_000;
      while (!(s.step === 'bake' && (s.bakes?.[0]?.samples ?? 0) >= 2)) {
        if (Date.now() > deadline || s.outcome) throw new Error(`no bake with 2 samples: ${s.step} ${s.outcome ?? ''}`);
        await new Promise((r) => setTimeout(r, 100));
        s = await handle.query(statusQuery);
      }
      const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
      await handle.signal(abortSignal, { by: 'alice', reason: 'saw something odd' });
      const result = await handle.result().then(
        (r) => r,
        (err: unknown) => (err instanceof WorkflowFailedError ? resultOfFailedRun(err) : undefined),
      );
      return { result, details: meta.currentDetails ?? '', samplesSeen: s.bakes![0]!.samples };
    });
    expect(details).toMatch(
      /^Step \*\*bake\*\* of cluster \*\*green\*\* \(v2\): \d+ of 30 s, \d+ samples; \d+ responses; worst green-\d: 5xx 0% of \d+, rtime 2 ms, UP \(limit 5xx 5% once 50 responses\)$/,
    );
    expect(samplesSeen).toBeGreaterThanOrEqual(2);
    expect(result?.outcome).toBe('rolled-back');
    expect(result?.reason).toMatch(/^aborted by alice: saw something odd \(during bake of green\)/);
    expect(result?.bakes?.[0]).toMatchObject({ cluster: 'green', outcome: 'stopped' });
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
  });
});
