// Rollback: the clusters touched so far go back to the previous release, most recent first. The
// broken cluster is restored before the healthy one is taken out, so the live pool is never empty.
import { deploy, errorMessage, hostRefs, live, standby, step, verify, type StepContext } from './steps';
import { clusterOf, hostsOf } from './state';

export async function rollback(ctx: StepContext, touched: string[], why: string): Promise<{ ok: boolean; reason: string }> {
  const { plan } = ctx;
  ctx.control.enterRollback();
  const order = [...touched].reverse();
  const restored: string[] = [];
  for (const cluster of order) {
    try {
      await step(ctx, 'rollback', cluster, () => rollbackCluster(ctx, cluster));
      restored.push(cluster);
    } catch (err) {
      const left = describeCluster(ctx, cluster);
      clusterOf(ctx.status, cluster).phase = 'failed';
      return {
        ok: false,
        reason:
          `${why}. Rollback of ${cluster} to ${plan.currentRelease} failed: ${errorMessage(err)}. ` +
          `Left as is: ${left}.${restored.length ? ` Restored: ${restored.join(', ')}.` : ''} ` +
          `Users are served by the clusters still in the live pool; fix ${cluster} and deploy again.`,
      };
    }
  }
  return { ok: true, reason: `${why}. Rolled back: ${order.join(', then ')} run${order.length === 1 ? 's' : ''} ${plan.currentRelease} and ${order.length === 1 ? 'is' : 'are'} live again` };
}

async function rollbackCluster(ctx: StepContext, cluster: string): Promise<void> {
  const { plan, call } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  clusterOf(ctx.status, cluster).phase = 'rolling-back';
  for (const h of hostsOf(ctx.status, cluster)) h.phase = 'rolling-back';

  if (hostsOf(ctx.status, cluster).every((h) => h.release === plan.currentRelease)) {
    // Nothing was installed here: only the pools need putting back.
    await live(ctx, cluster);
    clusterOf(ctx.status, cluster).phase = 'rolled-back';
    return;
  }
  const view = await call('readLoadBalancer', `Rollback: read the pools before restoring ${cluster}`, plan.loadBalancer);
  const inLive = names.some((n) => view.some((s) => s.pool === 'live' && s.server === n && s.admin !== 'maint'));
  if (inLive) {
    // The cluster serves users on the new release: take it out, as in step 1 (refused if it would empty the live pool).
    await standby(ctx, cluster);
  } else {
    await call('enterPool', `Rollback: put ${cluster} into the standby pool`, {
      lb: plan.loadBalancer,
      pool: 'standby',
      servers: names,
      deadlineSeconds: 0,
    });
  }
  await deploy(ctx, cluster, plan.currentRelease);
  await verify(ctx, cluster, plan.currentRelease, false);
  await live(ctx, cluster);
  clusterOf(ctx.status, cluster).phase = 'rolled-back';
}

function describeCluster(ctx: StepContext, cluster: string): string {
  return hostsOf(ctx.status, cluster)
    .map((h) => `${h.name} on ${h.release ?? 'an unknown release'}, pool ${h.pool}`)
    .join('; ');
}

