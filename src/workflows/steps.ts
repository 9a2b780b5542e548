// The steps of DESIGN.md, one function each. Every step is safe to run again: the activities read
// the current state and change only what is missing, which is also what rollback relies on.
import { ActivityFailure, ApplicationFailure, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { HostInspection, HostOutcome } from '../activities/types';
import type { ServerState } from '../ports/lb';
import { fleetInspection, hostProblems, hostRefs, lbProblems } from './preflight-rules';

export { hostRefs };
import type { Plan } from '../plan/schema';
import { INSTALL_TIMEOUT_SECONDS, attemptsOf, smokeBudgetSeconds, type Call } from './activity-calls';
import type { Control } from './control';
import type { Notifier } from './notifier';
import { STEP } from './search-attributes';
import { clusterOf, hostsOf, type DeploymentStatus, type HostStatus, type StepName } from './state';

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

/**
 * The fleet as preflight and the recovery survey read it, both at once: the LB's pools, and every
 * host's release (SSH) and health (HTTP; a healthy host must report `expectRelease` when given).
 * Two promises, so each caller decides whether one failing fails both.
 */
export function readFleet(ctx: StepContext, label: string, expectRelease?: string): [Promise<ServerState[]>, Promise<HostInspection[]>] {
  const { plan, call } = ctx;
  const input = fleetInspection(plan, expectRelease);
  return [
    call('readLoadBalancer', `${label}: read the load balancer pools`, plan.loadBalancer),
    call('inspectHosts', `${label}: read the release and health of ${input.hosts.length} hosts`, input),
  ];
}

/** Step 0: refuse to start unless the fleet is exactly as the plan says. Changes nothing. */
export async function preflight(ctx: StepContext): Promise<void> {
  const { plan } = ctx;
  const all = plan.order.flatMap((c) => hostRefs(plan, c));
  const [view, inspections, bakeProblem] = await Promise.all([...readFleet(ctx, 'Preflight', plan.currentRelease), canBake(ctx, all)]);
  const problems: string[] = bakeProblem ? [bakeProblem] : [];
  for (const h of all) problems.push(...lbProblems(view, h.name));
  for (const r of inspections) {
    const hs = hostStatus(ctx, r.host);
    if (r.release !== undefined) hs.release = r.release;
    if (r.error) hs.lastError = r.error;
    else hs.phase = 'checked';
    problems.push(...hostProblems(plan.currentRelease, r));
  }
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Preflight refused to start; nothing was changed:\n  - ${problems.join('\n  - ')}`,
      'PreflightFailed',
      { problems: problems.slice(0, MAX_LISTED_PROBLEMS) },
    );
  }
}

/** With a bake: prove now that the LB gives every server's counters, not after a cluster went live. */
async function canBake(ctx: StepContext, all: ReturnType<typeof hostRefs>): Promise<string | undefined> {
  if (!ctx.plan.bake) return undefined;
  try {
    await ctx.call('readCounters', 'Preflight: read the per-server counters the bake will watch', {
      lb: ctx.plan.loadBalancer,
      pool: 'live',
      servers: all.map((h) => h.name),
    });
    return undefined;
  } catch (err) {
    return `the bake cannot read per-server counters from the load balancer: ${errorMessage(err)}`;
  }
}

/** Problems listed in a failure's details (the message names them all, bounded by the fleet's size). */
const MAX_LISTED_PROBLEMS = 200;

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
