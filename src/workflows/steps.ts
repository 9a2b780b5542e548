// The steps of DESIGN.md, one function each. Every step is safe to run again: the activities read
// the current state and change only what is missing, which is also what rollback relies on.
import { ActivityFailure, ApplicationFailure, patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { HostOutcome } from '../activities/types';
import { hostRefs } from './preflight-rules';

export { hostRefs };
import type { Plan } from '../plan/schema';
import { INSTALL_TIMEOUT_SECONDS, attemptsOf, smokeBudgetSeconds, type Call } from './activity-calls';
import type { Control } from './control';
import type { Notifier } from './notifier';
import { STEP } from './search-attributes';
import { clusterOf, hostsOf, type DeploymentStatus, type StepName } from './state';

export interface StepContext {
  plan: Plan;
  status: DeploymentStatus;
  call: Call;
  control: Control;
  /** Webhook notifications (a no-op without `notify` in the plan). */
  notifier?: Notifier;
  /** "deploy of green": where the run was when its cancellation was requested. */
  cancelledDuring?: string;
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

/**
 * Goes on with the step a run was in when it continued as new (waiting at a gate): no new step
 * record, the step's time runs on from when it started.
 */
export async function resumeStep<T>(ctx: StepContext, body: () => Promise<T>): Promise<T> {
  const record = ctx.status.steps[ctx.status.steps.length - 1];
  try {
    return await body();
  } finally {
    if (record) record.ms = Date.now() - Date.parse(record.startedAt);
  }
}

/** A step of the forward run, then the safe point after it: pause waits there, abort turns into a rollback there. */
export async function forwardStep<T>(ctx: StepContext, name: StepName, cluster: string | undefined, body: () => Promise<T>): Promise<T> {
  const result = await step(ctx, name, cluster, body);
  await ctx.control.safePoint();
  return result;
}

/** resumeStep for the forward run: the safe point follows, as after any forward step. */
export async function resumeForwardStep<T>(ctx: StepContext, body: () => Promise<T>): Promise<T> {
  const result = await resumeStep(ctx, body);
  await ctx.control.safePoint();
  return result;
}

export function errorMessage(err: unknown): string {
  let e: unknown = err;
  let suffix = '';
  // ActivityFailure wraps the ApplicationFailure that carries the activity's own message.
  while (
    e instanceof Error &&
    'cause' in e &&
    e.cause instanceof Error &&
    /Activity task failed|ActivityFailure/.test(e.message + e.name)
  ) {
    if (e instanceof ActivityFailure && e.retryState === 'MAXIMUM_ATTEMPTS_REACHED') {
      suffix = ` (gave up after ${attemptsOf(e.activityType)} attempts)`;
    }
    e = e.cause;
  }
  return (e instanceof Error ? e.message : String(e)) + suffix;
}

/** Step 1: drain the cluster out of the live pool (sessions to 0, with a deadline), into standby. */
export async function standby(ctx: StepContext, cluster: string): Promise<void> {
  const { plan, call } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  clusterOf(ctx.status, cluster).phase = 'standby';
  for (const h of hostsOf(ctx.status, cluster)) h.phase = 'draining';
  const lb = plan.loadBalancer;
  const deadlineSeconds = plan.drain.deadlineSeconds;
  if (patched(ONE_LB_CALL_PER_STEP)) {
    await call('drainFromLive', `Standby: drain ${cluster} (${names.join(', ')}) out of the live pool, into standby`, {
      lb,
      servers: names,
      deadlineSeconds,
      enterStandby: true,
    });
  } else {
    await call('drainFromLive', `Standby: drain ${cluster} (${names.join(', ')}) out of the live pool`, {
      lb,
      servers: names,
      deadlineSeconds,
    });
    for (const h of hostsOf(ctx.status, cluster)) h.pool = 'none';
    await call('enterPool', `Standby: put ${cluster} into the standby pool`, { lb, pool: 'standby', servers: names, deadlineSeconds: 0 });
  }
  for (const h of hostsOf(ctx.status, cluster)) {
    h.pool = 'standby';
    h.phase = 'standby';
  }
}

/**
 * Runs started before this patch made two LB activities in steps 1 and 4; newer runs make one
 * each (a round trip through Temporal saved per step; the activity still changes only what is
 * missing, so a retry of the whole is safe).
 */
const ONE_LB_CALL_PER_STEP = 'one-lb-call-per-step';

/** Runs started before this patch waited for UP in standby (enterPool) apart from the smoke tests; newer ones in the same activity. */
const ONE_ACTIVITY_PER_VERIFY = 'one-activity-per-verify';

/** Step 2: install the release on every host of the cluster (bounded parallelism) until each is healthy. */
export async function deploy(ctx: StepContext, cluster: string, release: string): Promise<void> {
  const { plan, call } = ctx;
  clusterOf(ctx.status, cluster).phase = 'deploying';
  const hosts = hostRefs(plan, cluster);
  const before = new Map(hostsOf(ctx.status, cluster).map((h) => [h.name, h.release]));
  for (const h of hostsOf(ctx.status, cluster)) {
    h.phase = 'installing';
    h.release = null; // unknown until the cluster's install reports back
  }
  // One activity for the cluster; an abort stops it taking new hosts (the ones in flight finish).
  const report = await ctx.control.interruptible(() =>
    call('deployHosts', `Deploy: install ${release} on ${cluster} (${hosts.length} hosts, ${plan.parallelism} at a time)`, {
      cluster,
      hosts,
      commands: { install: plan.commands.install, currentRelease: plan.commands.currentRelease },
      release,
      parallelism: plan.parallelism,
      installTimeoutSeconds: INSTALL_TIMEOUT_SECONDS,
      health: { timeoutSeconds: plan.health.timeoutSeconds, intervalMs: plan.health.intervalMs },
      // HAProxy checks servers actively: held in maint while they restart, they never go DOWN. nginx
      // (open source) has no active checks, and each change there is a reload: not worth two per host.
      ...(plan.loadBalancer.type === 'haproxy' ? { standbyHold: plan.loadBalancer } : {}),
    }),
  );
  const reported = new Map(report.hosts.map((o: HostOutcome) => [o.host, o]));
  for (const hs of hostsOf(ctx.status, cluster)) {
    const o = reported.get(hs.name);
    if (!o) {
      // Never started (the cluster stopped at another host's failure): as it was.
      hs.release = before.get(hs.name) ?? null;
      hs.phase = 'standby';
      continue;
    }
    hs.release = o.release;
    if (o.ok) {
      hs.phase = 'healthy';
      // During a rollback the error that caused it stays visible on the host.
      if (ctx.status.step !== 'rollback') hs.lastError = undefined;
    } else {
      hs.phase = 'failed';
      hs.lastError = boundedError(o.error ?? 'failed');
    }
  }
  const first = report.firstFailure ? reported.get(report.firstFailure) : undefined;
  if (first) {
    const message = boundedError(first.error ?? `${first.host} failed`);
    if (ctx.status.step !== 'rollback' && !ctx.status.failure) {
      ctx.status.failure = { kind: 'failure', step: ctx.status.step, cluster, host: first.host, message, at: new Date().toISOString() };
    }
    throw ApplicationFailure.nonRetryable(message, first.errorType ?? 'HostFailed');
  }
  setCurrentDetails(`Step **deploy** of **${cluster}**: ${hosts.length}/${hosts.length} hosts healthy on ${release}`);
}

/** A host's error as the status and the history keep it: long output tails cut (1,000 hosts x 2 KB would near Temporal's 2 MB payload limit). */
export function boundedError(message: string, max = 600): string {
  return message.length > max ? `${message.slice(0, max - 1)}…` : message;
}

/** Step 3: smoke-test the cluster through the standby pool; the promote gate (if any) follows. */
export async function verify(ctx: StepContext, cluster: string, release: string, opts: { promoteGate: boolean }): Promise<void> {
  const { plan, call } = ctx;
  clusterOf(ctx.status, cluster).phase = 'verifying';
  const refs = hostRefs(plan, cluster);
  const names = refs.map((h) => h.name);
  const standbyUp = { lb: plan.loadBalancer, deadlineSeconds: plan.health.timeoutSeconds };
  const oneCall = patched(ONE_ACTIVITY_PER_VERIFY);
  if (!oneCall)
    await call('enterPool', `Verify: wait until ${cluster} is UP in the standby pool`, { ...standbyUp, pool: 'standby', servers: names });
  const what = `smoke-test ${cluster} on ${release} through the standby pool`;
  // The summary is Temporal Web's label only (not compared on replay). Since patch one-activity-per-verify
  // the activity also waits for HAProxy's checks, but only for hosts no pool response reached.
  const summary = oneCall ? `Verify: ${what} (a host no response reaches waits for its check)` : `Verify: ${what}`;
  await call('smokeTest', summary, {
    ...(oneCall ? { standbyUp } : {}),
    standbyUrl: plan.loadBalancer.standbyUrl,
    tests: plan.smoke,
    release,
    hosts: names,
    ...(plan.smokeCoverage ? { coverage: plan.smokeCoverage } : {}),
    // Direct requests go to the origin of each host's healthUrl (the smoke paths are absolute).
    hostUrls: Object.fromEntries(refs.map((h) => [h.name, h.healthUrl])),
    deadlineSeconds: smokeBudgetSeconds(plan, names.length),
  });
  for (const h of hostsOf(ctx.status, cluster)) h.phase = 'verified';
  if (opts.promoteGate) await promoteGate(ctx, cluster);
}

/** Step 3's optional manual approval: "promote this cluster?" */
export async function promoteGate(ctx: StepContext, cluster: string): Promise<void> {
  if (ctx.plan.gates.promote.enabled) await ctx.control.gate(`promote-${cluster}`, ctx.plan.gates.promote);
}

/**
 * Out of the standby pool, for a rollback or recovery about to reinstall a cluster that is not live:
 * no smoke test or preview reaches a host on what it runs now. Step 2 (HAProxy: each host once
 * healthy) or step 3 puts the hosts back.
 */
export async function holdOutOfStandby(ctx: StepContext, cluster: string, summary: string): Promise<void> {
  const names = hostRefs(ctx.plan, cluster).map((h) => h.name);
  await ctx.call('leavePool', summary, { lb: ctx.plan.loadBalancer, pool: 'standby', servers: names });
  for (const h of hostsOf(ctx.status, cluster)) h.pool = 'none';
}

/** Step 4: back into the live pool, wait until UP, out of the standby pool. */
export async function live(ctx: StepContext, cluster: string): Promise<void> {
  const { plan, call } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  const lb = plan.loadBalancer;
  const deadlineSeconds = plan.health.timeoutSeconds;
  if (patched(ONE_LB_CALL_PER_STEP)) {
    await call('enterPool', `Live: put ${cluster} back into the live pool, then out of standby`, {
      lb,
      pool: 'live',
      servers: names,
      deadlineSeconds,
      leaveStandby: true,
    });
  } else {
    await call('enterPool', `Live: put ${cluster} back into the live pool`, { lb, pool: 'live', servers: names, deadlineSeconds });
    for (const h of hostsOf(ctx.status, cluster)) h.pool = 'live';
    await call('leavePool', `Live: take ${cluster} out of the standby pool`, { lb, pool: 'standby', servers: names });
  }
  for (const h of hostsOf(ctx.status, cluster)) {
    h.pool = 'live';
    h.phase = 'live';
  }
  clusterOf(ctx.status, cluster).phase = 'live';
}

/**
 * Step 4b, with plan.bake only: once the cluster is live, watch its servers' own counters in the live
 * pool for bake.seconds; a breach fails the run, which rolls back. The window opens (openBakeWindow)
 * just before step 4 puts the cluster back into the live pool. In bake.ts.
 */
export { bake, openBakeWindow } from './bake';

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
