// Recovery's logic on a real Temporal server with the in-memory fleet: the order it converges a
// mixed fleet in, that it changes nothing on a converged fleet or when a host is unreachable, and
// (replaying the fleet's change log) that the live pool never had no ready server.
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { RunAlreadyActiveError, startDeployment, startRecovery } from '../../../src/client/start';
import { parsePlan, parseRecoveryPlan } from '../../../src/plan/validate';
import type { DeploymentResult } from '../../../src/workflows/state';
import { recoverFleet } from '../../../src/workflows';
import { abortSignal, pauseSignal, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { runOnFakeFleet } from '../../support/runs';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { waitForStatus } from '../../support/wait';

const temporal = useTemporal();

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];

const recover = (fleet: FakeFleet, to: string, plan: unknown = fleet.plan()) => runOnFakeFleet(temporal, fleet, plan, { recoverTo: to });

/** A cluster stranded as a failed rollback leaves it: out of the live pool, in the standby pool. */
function strand(fleet: FakeFleet, cluster: string, release: string): void {
  for (const h of HOSTS.filter((x) => x.startsWith(cluster))) {
    fleet.releases.set(h, release);
    fleet.pools.live.get(h)!.admin = 'maint';
    fleet.pools.live.get(h)!.up = false;
    fleet.pools.standby.get(h)!.admin = 'ready';
    fleet.pools.standby.get(h)!.up = true;
  }
}

/** Replays the change log from the starting pools: the live pool had a ready server after every change. */
function expectLiveNeverEmpty(fleet: FakeFleet, startLive: Record<string, string>): void {
  const live = { ...startLive };
  for (const c of fleet.changes) {
    const [kind, pool, server, state] = c.split(':');
    if (kind === 'lb' && pool === 'live' && server && state) live[server] = state;
    expect(
      Object.values(live).some((s) => s === 'ready'),
      `live pool empty after ${c}: ${JSON.stringify(live)}`,
    ).toBe(true);
  }
}

const liveAdmins = (fleet: FakeFleet) => Object.fromEntries([...fleet.pools.live].map(([h, s]) => [h, s.admin as string]));
const stepsOf = (r?: DeploymentResult) => r?.steps.map((s) => `${s.step}${s.cluster ? `:${s.cluster}` : ''}`);

function expectConverged(fleet: FakeFleet, release: string): void {
  expect(Object.fromEntries(fleet.releases)).toEqual(Object.fromEntries(HOSTS.map((h) => [h, release])));
  for (const h of HOSTS) {
    expect(fleet.pools.live.get(h)?.admin, `${h} in live`).toBe('ready');
    expect(fleet.pools.standby.get(h)?.admin, `${h} in standby`).toBe('maint');
  }
}

describe('recoverFleet on a mixed fleet', () => {
  it('holds a stranded cluster out of the standby pool before it reinstalls any of its hosts', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    strand(fleet, 'green', 'v2'); // ready in standby, on v2
    // One host at a time: green-2 waits while green-1 is reinstalled.
    const { result, error } = await recover(fleet, 'v1', { ...fleet.plan(), parallelism: 1 });
    expect(error).toBeUndefined();
    expect(result?.outcome).toBe('succeeded');
    const reinstall = fleet.changes.indexOf('install:green-1:v1');
    expect(reinstall).toBeGreaterThan(-1);
    const lastStandby = (host: string) =>
      fleet.changes
        .slice(0, reinstall)
        .filter((c) => c.startsWith(`lb:standby:${host}:`))
        .pop();
    expect(lastStandby('green-1')).toBe('lb:standby:green-1:maint');
    expect(lastStandby('green-2')).toBe('lb:standby:green-2:maint');
    expectConverged(fleet, 'v1');
  });

  it('converges the stranded cluster first, skips the one already right, and never empties the live pool', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    strand(fleet, 'green', 'v2');
    const start = liveAdmins(fleet);
    const { result, error, reason } = await recover(fleet, 'v1');
    expect(error).toBeUndefined();
    expect(result?.outcome).toBe('succeeded');
    expect(stepsOf(result)).toEqual(['survey', 'standby:green', 'deploy:green', 'verify:green', 'live:green']);
    expect(reason).toMatch(
      /^every cluster runs v1 and is live\. Converged green; blue already was on v1, live and out of standby\. Found before: green-1 v2, healthy, live MAINT \(admin maint\), standby UP; /,
    );
    expect(result?.recovery?.survey.find((h) => h.host === 'green-2')).toMatchObject({
      release: 'v2',
      healthy: true,
      live: 'MAINT (admin maint)',
      standby: 'UP',
    });
    expect(result?.recovery?.clusters.map((c) => `${c.cluster}:${c.action}:${c.outcome}`)).toEqual([
      'green:converge:done',
      'blue:skip:skipped',
    ]);
    expect(result?.fromRelease).toBe('v1/v2');
    expectConverged(fleet, 'v1');
    expect(fleet.changes.some((c) => c.includes('blue'))).toBe(false);
    expectLiveNeverEmpty(fleet, start);
  });

  it('takes a cluster out of the live pool before one that serves users, whatever the plan order says', async () => {
    const fleet = new FakeFleet(HOSTS, 'v2');
    // blue stranded on v1 (a deploy of v2 failed there and its rollback could not finish), green serving v2.
    strand(fleet, 'blue', 'v1');
    const start = liveAdmins(fleet);
    const { result, error } = await recover(fleet, 'v1');
    expect(error).toBeUndefined();
    expect(stepsOf(result)).toEqual([
      'survey',
      'standby:blue',
      'deploy:blue',
      'verify:blue',
      'live:blue',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
    ]);
    expectConverged(fleet, 'v1');
    // blue was back in the live pool before green was drained.
    expect(fleet.changes.indexOf('lb:live:blue-2:ready')).toBeGreaterThan(-1);
    expect(fleet.changes.indexOf('lb:live:green-1:drain')).toBeGreaterThan(fleet.changes.indexOf('lb:live:blue-2:ready'));
    expectLiveNeverEmpty(fleet, start);
  });

  it('a fleet already on the release, live and out of standby: changes nothing', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { result, error } = await recover(fleet, 'v1', fleet.plan({ release: 'v1', currentRelease: 'v1' }));
    expect(error).toBeUndefined();
    expect(result?.outcome).toBe('succeeded');
    expect(result?.reason).toMatch(/^every cluster runs v1 and is live\. Nothing to do; green, blue already were on v1/);
    expect(stepsOf(result)).toEqual(['survey']);
    expect(fleet.changes).toEqual([]);
  });

  it('a host unreachable over SSH: refused, naming it, and nothing changed', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    strand(fleet, 'green', 'v2');
    fleet.unreachable.add('green-2');
    const { result, error, reason } = await recover(fleet, 'v1');
    expect(error).toBeDefined();
    expect(result?.outcome).toBe('failed');
    expect(reason).toMatch(
      /^Recovery refused to start; nothing was changed:\n {2}- green-2: .*refused.* \(recovery needs every host's release over SSH\)\nFound: /,
    );
    expect(reason).toMatch(/green-2 release unknown \(green-2: .*refused/);
    expect(stepsOf(result)).toEqual(['survey']);
    expect(fleet.changes).toEqual([]);
  });

  it('a cluster that fails to converge: stops there, keeps it out of the live pool, leaves the rest alone, says what is left', async () => {
    const fleet = new FakeFleet(HOSTS, 'v2');
    strand(fleet, 'green', 'v2');
    fleet.brokenOn.set('green-1', 'v1'); // v1 never becomes healthy on green-1
    const start = liveAdmins(fleet);
    const { result, reason } = await recover(fleet, 'v1');
    expect(result?.outcome).toBe('failed');
    expect(reason).toMatch(/^Recovery to v1 stopped: deploy of green failed on green-1: .*did not become healthy/);
    expect(reason).toMatch(
      /Not attempted: blue\. State left: green-1 release unknown over SSH \(its health endpoint reports v1\), in no pool; last error: green-1 did not become healthy.*; green-2 v1, standby pool only; blue-1 v2, live pool; blue-2 v2, live pool\. /,
    );
    expect(reason).toMatch(
      /Users are served by blue-1, blue-2; green is kept out of the live pool\. Fix what the error names, then run the recovery again: bluegreen recover fake --to v1 --plan PLAN\.$/,
    );
    expect(result?.recovery?.clusters.map((c) => `${c.cluster}:${c.outcome}`)).toEqual(['green:failed', 'blue:not-attempted']);
    expect(fleet.changes.filter((c) => c.startsWith('lb:live:green'))).toEqual([]);
    expect(fleet.changes.some((c) => c.includes('blue'))).toBe(false);
    expectLiveNeverEmpty(fleet, start);
  });

  it('pause holds it after the survey; abort there stops it with nothing changed', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    strand(fleet, 'green', 'v2');
    const taskQueue = uniqueId('tq');
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const handle = await temporal.client.workflow.start(recoverFleet, {
        taskQueue,
        workflowId: uniqueId('recover'),
        args: [fleet.plan(), 'v1'],
      });
      await handle.signal(pauseSignal, { by: 'alice' });
      await waitForStatus(handle, 'the pause after the survey', (s) => s.waitingFor === 'resume');
      await handle.signal(abortSignal, { by: 'alice', reason: 'not now' });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause?.message).toMatch(
        /^Recovery to v1 stopped: aborted by alice: not now \(during survey\)\. Not attempted: green\. State left: green-1 v2, standby pool only; .* Users are served by blue-1, blue-2\. To go on, run the recovery again: /,
      );
    });
    expect(fleet.changes).toEqual([]);
  });

  it('a plan that redeploys its current release is refused for a deployment, accepted for recovery', () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const same = fleet.plan({ release: 'v1', currentRelease: 'v1' });
    expect(() => parsePlan(same)).toThrow(/plan\.release: expected a release different from currentRelease/);
    expect(parseRecoveryPlan(same).release).toBe('v1');
  });

  it('shares the environment workflow id with deployments: refused while a deployment runs', async () => {
    const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');
    const environment = uniqueId('env').toLowerCase().slice(0, 40);
    const plan = parsePlan(fleet.plan({ environment, gates: { promote: { enabled: true, timeoutSeconds: 600 } } }));
    const taskQueue = uniqueId('tq');
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const deployment = await startDeployment(temporal.client, plan, { taskQueue });
      await expect(startRecovery(temporal.client, plan, 'v1', { taskQueue })).rejects.toBeInstanceOf(RunAlreadyActiveError);
      await deployment.terminate('test over');
      const recovery = await startRecovery(temporal.client, plan, 'v1', { taskQueue });
      expect(recovery.workflowId).toBe(`bluegreen-${environment}`);
      await recovery.result();
      expect((await recovery.query(statusQuery)).kind).toBe('recovery');
    });
  });
});
