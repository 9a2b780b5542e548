// The steps of DESIGN.md, one function each. Every step is safe to run again: the activities read
// the current state and change only what is missing, which is also what rollback relies on.
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { HostRef, LbServerView } from '../activities/types';
import type { Plan } from '../plan/schema';
import { attemptsOf, type Call } from './activity-calls';
import type { Control } from './control';
import { STEP } from './search-attributes';
import { clusterOf, hostsOf, type DeploymentStatus, type HostStatus, type StepName } from './state';

export interface StepContext {
  plan: Plan;
  status: DeploymentStatus;
  call: Call;
  control: Control;
}

export function hostRefs(plan: Plan, cluster: string): HostRef[] {
  return (plan.clusters[cluster]?.hosts ?? []).map((h) => ({ name: h.name, cluster, ssh: h.ssh, healthUrl: h.healthUrl }));
}

function hostStatus(ctx: StepContext, name: string): HostStatus {
  for (const c of ctx.status.clusters) for (const h of c.hosts) if (h.name === name) return h;
  throw new Error(`unknown host ${name}`);
}

/** Marks the start of a step (status, search attribute, Temporal Web details); returns a closer. */
export async function step<T>(ctx: StepContext, name: StepName, cluster: string | undefined, body: () => Promise<T>): Promise<T> {
  ctx.status.step = name;
  ctx.status.cluster = cluster;
  const record = { step: name, cluster, startedAt: new Date().toISOString() } as DeploymentStatus['steps'][number];
  ctx.status.steps.push(record);
  upsertSearchAttributes([{ key: STEP, value: cluster ? `${name}:${cluster}` : name }]);
  setCurrentDetails(
    name === 'rollback'
      ? `**Rolling back** cluster **${cluster}** to ${ctx.plan.currentRelease}, because: ${ctx.status.rollback?.why ?? 'the run failed'}`
      : `Step **${name}**${cluster ? ` of cluster **${cluster}**` : ''}: ${ctx.plan.currentRelease} → ${ctx.plan.release}`,
  );
  const t0 = Date.now();
  try {
    return await body();
  } finally {
    record.ms = Date.now() - t0;
  }
}

/** Runs fn over items with at most `limit` in flight (deterministic: plain promises). */
export async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length && firstError === undefined) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}

/**
 * Wraps a host's work so its phase and last error show in the status; the first failure of the
 * forward run is also recorded as the run's failure (step, cluster, host, message).
 */
async function onHost<T>(ctx: StepContext, host: HostStatus, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isCancellation(err)) throw err;
    host.lastError = errorMessage(err);
    host.phase = 'failed';
    if (ctx.status.step !== 'rollback' && !ctx.status.failure) {
      ctx.status.failure = {
        kind: 'failure',
        step: ctx.status.step,
        cluster: host.cluster,
        host: host.name,
        message: host.lastError,
        at: new Date().toISOString(),
      };
    }
    throw err;
  }
}

export function errorMessage(err: unknown): string {
  let e: unknown = err;
  let suffix = '';
  // ActivityFailure wraps the ApplicationFailure that carries the activity's own message.
  while (e instanceof Error && 'cause' in e && e.cause instanceof Error && /Activity task failed|ActivityFailure/.test(e.message + e.name)) {
    if (e instanceof ActivityFailure && e.retryState === 'MAXIMUM_ATTEMPTS_REACHED') {
      suffix = ` (gave up after ${attemptsOf(e.activityType)} attempts)`;
    }
    e = e.cause;
  }
  return (e instanceof Error ? e.message : String(e)) + suffix;
}

/** Step 0: refuse to start unless the fleet is exactly as the plan says. Changes nothing. */
export async function preflight(ctx: StepContext): Promise<void> {
  const { plan, call } = ctx;
  const problems: string[] = [];
  const view = await call('readLoadBalancer', 'Preflight: read the load balancer pools', plan.loadBalancer);
  const all = plan.order.flatMap((c) => hostRefs(plan, c));
  for (const h of all) problems.push(...lbProblems(view, h.name));

  // Read-only checks: wider than the deploy's parallelism, which protects capacity, not the hosts.
  await bounded(all, Math.max(plan.parallelism, 16), async (h) => {
    const hs = hostStatus(ctx, h.name);
    try {
      const release = await call('readHostRelease', `Preflight: read release on ${h.cluster}/${h.name}`, {
        host: h,
        command: plan.commands.currentRelease,
      });
      hs.release = release;
      if (release !== plan.currentRelease) problems.push(`${h.name} runs release "${release}", the plan expects "${plan.currentRelease}"`);
      const health = await call('probeHealth', `Preflight: health of ${h.cluster}/${h.name}`, {
        host: h,
        release: plan.currentRelease,
        timeoutSeconds: Math.min(10, plan.health.timeoutSeconds),
        intervalMs: plan.health.intervalMs,
      });
      if (!health.ok) problems.push(`${h.name} is not healthy: ${health.reason ?? 'unknown reason'}`);
      hs.phase = 'checked';
    } catch (err) {
      hs.lastError = errorMessage(err);
      // Activity errors usually start with the host's name already.
      problems.push(hs.lastError.startsWith(h.name) ? hs.lastError : `${h.name}: ${hs.lastError}`);
    }
  });
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Preflight refused to start; nothing was changed:\n  - ${problems.join('\n  - ')}`,
      'PreflightFailed',
      { problems },
    );
  }
}

function lbProblems(view: LbServerView[], name: string): string[] {
  const live = view.find((s) => s.pool === 'live' && s.server === name);
  const standby = view.find((s) => s.pool === 'standby' && s.server === name);
  const out: string[] = [];
  if (!live) out.push(`${name} is not a server of the live backend`);
  else if (live.admin !== 'ready' || live.status !== 'UP') out.push(`${name} is not UP in the live pool (admin ${live.admin}, status ${live.status})`);
  if (!standby) out.push(`${name} is not a server of the standby backend`);
  else if (standby.admin !== 'maint') out.push(`${name} is already in the standby pool (admin ${standby.admin})`);
  return out;
}

/** Step 1: drain the cluster out of the live pool (sessions to 0, with a deadline), into standby. */
export async function standby(ctx: StepContext, cluster: string): Promise<void> {
  const { plan, call } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  clusterOf(ctx.status, cluster).phase = 'standby';
  for (const h of hostsOf(ctx.status, cluster)) h.phase = 'draining';
  await call('drainFromLive', `Standby: drain ${cluster} (${names.join(', ')}) out of the live pool`, {
    lb: plan.loadBalancer,
    servers: names,
    deadlineSeconds: plan.drain.deadlineSeconds,
  });
  for (const h of hostsOf(ctx.status, cluster)) h.pool = 'none';
  await call('enterPool', `Standby: put ${cluster} into the standby pool`, {
    lb: plan.loadBalancer,
    pool: 'standby',
    servers: names,
    deadlineSeconds: 0,
  });
  for (const h of hostsOf(ctx.status, cluster)) {
    h.pool = 'standby';
    h.phase = 'standby';
  }
}

/** Step 2: install the release on every host of the cluster (bounded parallelism) until each is healthy. */
export async function deploy(ctx: StepContext, cluster: string, release: string): Promise<void> {
  const { plan, call } = ctx;
  clusterOf(ctx.status, cluster).phase = 'deploying';
  const hosts = hostRefs(plan, cluster);
  let done = 0;
  await bounded(hosts, plan.parallelism, async (h) => {
    await ctx.control.safePoint();
    const hs = hostStatus(ctx, h.name);
    await onHost(ctx, hs, async () => {
      hs.phase = 'installing';
      hs.release = null; // unknown until the install reports back
      hs.release = await call('installRelease', `Deploy: install ${release} on ${cluster}/${h.name}`, {
        host: h,
        command: plan.commands.install,
        release,
      });
      hs.phase = 'starting';
      await call('waitHealthy', `Deploy: wait until ${cluster}/${h.name} is healthy on ${release}`, {
        host: h,
        release,
        timeoutSeconds: plan.health.timeoutSeconds,
        intervalMs: plan.health.intervalMs,
      });
      hs.phase = 'healthy';
      // During a rollback the error that caused it stays visible on the host.
      if (ctx.status.step !== 'rollback') hs.lastError = undefined;
    });
    done++;
    setCurrentDetails(`Step **deploy** of **${cluster}**: ${done}/${hosts.length} hosts healthy on ${release}`);
  });
}

/** Step 3: smoke-test the cluster through the standby pool; the promote gate (if any) follows. */
export async function verify(ctx: StepContext, cluster: string, release: string, withGate: boolean): Promise<void> {
  const { plan, call } = ctx;
  clusterOf(ctx.status, cluster).phase = 'verifying';
  const names = hostRefs(plan, cluster).map((h) => h.name);
  await call('enterPool', `Verify: wait until ${cluster} is UP in the standby pool`, {
    lb: plan.loadBalancer,
    pool: 'standby',
    servers: names,
    deadlineSeconds: plan.health.timeoutSeconds,
  });
  await call('smokeTest', `Verify: smoke-test ${cluster} on ${release} through the standby pool`, {
    standbyUrl: plan.loadBalancer.standbyUrl,
    tests: plan.smoke,
    release,
    hosts: names,
  });
  for (const h of hostsOf(ctx.status, cluster)) h.phase = 'verified';
  if (withGate && plan.gates.promote.enabled) {
    await ctx.control.gate(`promote-${cluster}`, plan.gates.promote);
  }
}

/** Step 4: back into the live pool, wait until UP, out of the standby pool. */
export async function live(ctx: StepContext, cluster: string): Promise<void> {
  const { plan, call } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  await call('enterPool', `Live: put ${cluster} back into the live pool`, {
    lb: plan.loadBalancer,
    pool: 'live',
    servers: names,
    deadlineSeconds: plan.health.timeoutSeconds,
  });
  for (const h of hostsOf(ctx.status, cluster)) h.pool = 'live';
  await call('leavePool', `Live: take ${cluster} out of the standby pool`, {
    lb: plan.loadBalancer,
    pool: 'standby',
    servers: names,
  });
  for (const h of hostsOf(ctx.status, cluster)) h.phase = 'live';
  clusterOf(ctx.status, cluster).phase = 'live';
}

/** Step 6: the database migration, once every cluster runs the new release. */
export async function migrate(ctx: StepContext): Promise<void> {
  const { plan, call } = ctx;
  if (!plan.migration || !plan.commands.migrate) return;
  if (plan.gates.migrate.enabled) await ctx.control.gate('migrate', plan.gates.migrate);
  await ctx.control.safePoint();
  const target = plan.order.flatMap((c) => hostRefs(plan, c)).find((h) => h.name === plan.migration?.host);
  if (!target) throw ApplicationFailure.nonRetryable(`migration host ${plan.migration.host} is not in the plan`, 'PlanError');
  // From here on the schema may change: nothing is rolled back automatically any more.
  ctx.status.migrated = true;
  await call('runMigration', `Migrate: run the database migration on ${target.cluster}/${target.name}`, {
    host: target,
    command: plan.commands.migrate,
    release: plan.release,
  });
}
