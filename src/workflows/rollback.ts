// Rollback: the clusters touched so far go back to the previous release, most recent first. The
// broken cluster is restored before the healthy one is taken out, so the live pool is never empty.
// Every action is recorded in status.rollback as it completes; when a cluster cannot be restored
// (a host unreachable, the LB gone), the run stops there, keeps that cluster out of the live pool,
// and says host by host what state it left.
import { patched } from '@temporalio/workflow';
import type { ServerState } from '../ports/lb';
import { deploy, errorMessage, holdOutOfStandby, hostRefs, live, standby, step, verify, type StepContext } from './steps';
import { INSPECT_CONCURRENCY } from './preflight-rules';
import { clusterOf, hostsOf, type HostPool, type RollbackRecord } from './state';

type ClusterLog = RollbackRecord['clusters'][number];

/** Runs from before this patch put a cluster that was not live `ready` into standby before reinstalling it. */
const ROLLBACK_HOLDS_STANDBY = 'rollback-holds-standby-until-reinstalled';

export async function rollback(ctx: StepContext, touched: string[], why: string): Promise<{ ok: boolean; reason: string }> {
  const { plan, status } = ctx;
  ctx.control.enterRollback();
  const order = [...touched].reverse();
  status.rollback = { why, clusters: order.map((cluster) => ({ cluster, outcome: 'not-attempted', actions: [] })) };
  const restored: string[] = [];
  for (const [i, cluster] of order.entries()) {
    const rec = status.rollback.clusters[i] as ClusterLog;
    rec.outcome = 'running';
    try {
      await step(ctx, 'rollback', cluster, () => rollbackCluster(ctx, cluster, rec));
      rec.outcome = 'rolled-back';
      restored.push(cluster);
    } catch (err) {
      rec.outcome = 'failed';
      rec.error = errorMessage(err);
      clusterOf(status, cluster).phase = 'failed';
      const lbRead = await settleState(ctx, cluster);
      const pending = order.slice(i + 1);
      const liveHosts = status.clusters.flatMap((c) => c.hosts).filter((h) => h.pool === 'live');
      return {
        ok: false,
        reason:
          `${why}. Rollback of ${cluster} to ${plan.currentRelease} failed${rec.attempting ? ` (could not ${rec.attempting})` : ''}: ${rec.error}. ` +
          (restored.length ? `Restored before that: ${restored.join(', ')}. ` : '') +
          (pending.length ? `Not attempted (left on ${plan.release}): ${pending.join(', ')}. ` : '') +
          `State left${lbRead ? '' : ' (pools as last known: the load balancer could not be read)'}: ${describeFleet(ctx)}. ` +
          (liveHosts.length
            ? `Users are served by ${liveHosts.map((h) => h.name).join(', ')}; ${cluster} is kept out of the live pool. `
            : '') +
          `Fix what the error names, then finish the rollback with a recovery: bluegreen recover ${plan.environment} --to ${plan.currentRelease} --plan PLAN.`,
      };
    }
  }
  return {
    ok: true,
    reason: `${why}. Rolled back: ${order.join(', then ')} run${order.length === 1 ? 's' : ''} ${plan.currentRelease} and ${order.length === 1 ? 'is' : 'are'} live again`,
  };
}

async function rollbackCluster(ctx: StepContext, cluster: string, rec: ClusterLog): Promise<void> {
  const { plan, call } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  const doing = (what: string) => (rec.attempting = what);
  const did = (action: string) => {
    rec.actions.push(action);
    rec.attempting = undefined;
  };
  clusterOf(ctx.status, cluster).phase = 'rolling-back';
  for (const h of hostsOf(ctx.status, cluster)) if (h.phase !== 'failed') h.phase = 'rolling-back';

  if (hostsOf(ctx.status, cluster).every((h) => h.release === plan.currentRelease)) {
    // Nothing was installed here: only the pools need putting back.
    doing(`put ${cluster} back into the live pool`);
    await live(ctx, cluster);
    did(`put ${cluster} back into the live pool (still on ${plan.currentRelease}; nothing had been installed)`);
    clusterOf(ctx.status, cluster).phase = 'rolled-back';
    return;
  }
  doing(`read the load balancer's pools`);
  const view = await call('readLoadBalancer', `Rollback: read the pools before restoring ${cluster}`, plan.loadBalancer);
  const inLive = names.some((n) => view.some((s) => s.pool === 'live' && s.server === n && s.admin !== 'maint'));
  if (inLive) {
    // The cluster serves users on the new release: take it out, as in step 1 (refused if it would empty the live pool).
    doing(`drain ${cluster} out of the live pool`);
    await standby(ctx, cluster);
    did(`drained ${cluster} out of the live pool into the standby pool`);
  } else if (patched(ROLLBACK_HOLDS_STANDBY)) {
    doing(`hold ${cluster} out of the standby pool until it is reinstalled`);
    await holdOutOfStandby(ctx, cluster, `Rollback: hold ${cluster} out of the standby pool until reinstalled`);
    did(`kept ${cluster} out of the live pool (it was not in it), and out of the standby pool until reinstalled`);
  } else {
    doing(`put ${cluster} into the standby pool`);
    await call('enterPool', `Rollback: put ${cluster} into the standby pool`, {
      lb: plan.loadBalancer,
      pool: 'standby',
      servers: names,
      deadlineSeconds: 0,
    });
    for (const h of hostsOf(ctx.status, cluster)) h.pool = 'standby';
    did(`kept ${cluster} out of the live pool (it was not in it), in the standby pool`);
  }
  doing(`install ${plan.currentRelease} on ${names.join(', ')}`);
  await deploy(ctx, cluster, plan.currentRelease);
  did(`installed ${plan.currentRelease} on ${names.join(', ')}; each healthy`);
  doing(`smoke-test ${cluster} on ${plan.currentRelease} through the standby pool`);
  await verify(ctx, cluster, plan.currentRelease, { promoteGate: false });
  did(`smoke-tested ${cluster} on ${plan.currentRelease} through the standby pool`);
  doing(`put ${cluster} back into the live pool`);
  await live(ctx, cluster);
  did(`put ${cluster} back into the live pool (UP), out of the standby pool`);
  clusterOf(ctx.status, cluster).phase = 'rolled-back';
}

/**
 * After a failed rollback (or recovery, which says so in `what`): best-effort, single-attempt reads so that the state reported is the real
 * one. Pools from the LB (returns false if it cannot be read), and for hosts whose release SSH could
 * not confirm, what their own health endpoint says (plain HTTP, works while sshd is down).
 */
export async function settleState(ctx: StepContext, cluster: string, what = 'Rollback failed'): Promise<boolean> {
  const { plan, call } = ctx;
  const once = { retry: { maximumAttempts: 1 } };
  let lbRead = false;
  try {
    const view = await call('readLoadBalancer', `${what}: read the pools to report the state left`, plan.loadBalancer, once);
    for (const h of ctx.status.clusters.flatMap((c) => c.hosts)) h.pool = poolOf(view, h.name);
    lbRead = true;
  } catch {
    // Reported as "pools as last known".
  }
  const unknown = hostRefs(plan, cluster).filter((ref) => hostsOf(ctx.status, cluster).find((x) => x.name === ref.name)?.release === null);
  if (unknown.length > 0) {
    try {
      const seen = await call(
        'inspectHosts',
        `${what}: ask the health endpoints of ${unknown.map((h) => h.name).join(', ')} which release they run`,
        { hosts: unknown, expectRelease: plan.currentRelease, healthTimeoutSeconds: 5, concurrency: INSPECT_CONCURRENCY },
        once,
      );
      for (const r of seen) {
        const h = hostsOf(ctx.status, cluster).find((x) => x.name === r.host);
        if (h && r.reportedRelease) h.reportedRelease = r.reportedRelease;
      }
    } catch {
      // Stays unknown.
    }
  }
  return lbRead;
}

export function poolOf(view: ServerState[], name: string): HostPool {
  const inPool = (pool: string) => view.some((s) => s.pool === pool && s.server === name && s.admin !== 'maint');
  return inPool('live') ? 'live' : inPool('standby') ? 'standby' : 'none';
}

/** Every host: release (or why it is unknown), pool, and the last error where there is one. */
export function describeFleet(ctx: StepContext): string {
  return ctx.status.clusters
    .flatMap((c) => c.hosts)
    .map((h) => {
      const release =
        h.release ?? `release unknown over SSH${h.reportedRelease ? ` (its health endpoint reports ${h.reportedRelease})` : ''}`;
      const pool = h.pool === 'live' ? 'live pool' : h.pool === 'standby' ? 'standby pool only' : 'in no pool';
      const error = h.phase === 'failed' && h.lastError ? `; last error: ${h.lastError}` : '';
      return `${h.name} ${release}, ${pool}${error}`;
    })
    .join('; ');
}
