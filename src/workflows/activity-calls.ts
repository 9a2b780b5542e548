// How the workflow calls its activities: timeouts and retries per kind of work, and a summary on
// each call so Temporal Web names the step, cluster and host of every activity.
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { SMOKE_CONCURRENCY, smokePoolRounds } from '../plan/smoke-budget';
import type { Plan } from '../plan/schema';
import { INSPECT_CONCURRENCY } from './preflight-rules';

type Name = keyof Activities;
type Input<N extends Name> = Parameters<Activities[N]>[0];
type Output<N extends Name> = Awaited<ReturnType<Activities[N]>>;

/** LB calls: 4 attempts, 1 + 2 + 4 s apart, ride out an LB API that is away for about 7 s. */
export const LB_ATTEMPTS = 4;
/** SSH calls retry per host inside the activity (fleet.ts); these attempts are for a worker that died. */
export const WORKER_ATTEMPTS = 5;
/**
 * A worker that died is noticed within this; the worker heartbeats at least every 3 s (its
 * maxHeartbeatThrottleInterval), so one rejected heartbeat (`Workflow is busy`) is not fatal.
 */
export const HEARTBEAT_TIMEOUT_SECONDS = 15;
/** An install gets this long per host (the deploy activity's own per-host bound). */
export const INSTALL_TIMEOUT_SECONDS = 300;

/**
 * Error types a retry cannot fix (the names of what activities and adapters throw). Declared here,
 * not with the activities: workflow code imports nothing of theirs but types.
 */
export const NON_RETRYABLE_ERRORS = [
  'HostKeyError',
  'PlanError',
  'UnsafeValueError',
  'LbCommandError',
  'LbProtocolError',
  'UnknownServerError',
  'UnsafeLbNameError',
  'EmptyLivePoolError',
  'ReleaseMismatch',
  'HealthCheckFailed',
  'SmokeTestFailed',
  'CommandFailed',
  'DrainTimeoutError',
  'NotUpError',
  'CountersUnsupported',
] as const;

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '20 seconds',
  maximumAttempts: LB_ATTEMPTS,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS],
};

// On cancellation the workflow waits until the activity has really stopped (they heartbeat, so they
// see it within seconds) before the rollback starts: a rollback must never race a half-done install.
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/**
 * Timeouts derive from the plan so a long drain, a slow start or a big cluster has room, and nothing
 * hangs past it. Long activities heartbeat on a timer (heartbeat.ts), independent of the plan's
 * intervals, so a heartbeat timeout means a dead worker, never a slow host; the next attempt resumes.
 */
export function activityOptions(plan: Plan): Record<Name, ActivityOptions> {
  const quick: ActivityOptions = { startToCloseTimeout: '1 minute', retry, cancellationType };
  const heartbeatTimeout = `${HEARTBEAT_TIMEOUT_SECONDS} seconds`;
  const resumable = (seconds: number): ActivityOptions => ({
    startToCloseTimeout: `${Math.ceil(seconds) + 120} seconds`,
    heartbeatTimeout,
    retry: { ...retry, maximumAttempts: WORKER_ATTEMPTS },
    cancellationType,
  });
  // LB waits poll the Runtime API; their retries are for the API being away (LB_ATTEMPTS).
  const lbWait = (seconds: number): ActivityOptions => ({ ...resumable(seconds), retry });
  const largest = Math.max(...plan.order.map((c) => plan.clusters[c]?.hosts.length ?? 0));
  const hostRounds = Math.ceil(largest / plan.parallelism);
  // Preflight's reads (inspectHosts, or readFleet with the pools too): 3 minutes per wave of hosts.
  const fleetRead = resumable(3 * 60 * Math.ceil((2 * largest) / INSPECT_CONCURRENCY) + 60);
  // Three SSH attempts of up to the install timeout each, plus 1 + 2 s between them, then health.
  const perHost = 3 * INSTALL_TIMEOUT_SECONDS + 3 + plan.health.timeoutSeconds;
  return {
    readLoadBalancer: quick,
    // A bake's sample: one show stat; a missed sample is retried quickly, the next timer waits anyway.
    readCounters: { ...quick, startToCloseTimeout: '20 seconds' },
    inspectHosts: fleetRead,
    readFleet: fleetRead,
    drainFromLive: lbWait(plan.drain.deadlineSeconds),
    enterPool: lbWait(plan.health.timeoutSeconds),
    leavePool: quick,
    deployHosts: resumable(hostRounds * perHost),
    // The activity stops itself at the budget with a clear message; this is only the backstop. It
    // first waits (up to the health timeout) for the cluster to be UP in standby.
    smokeTest: resumable(smokeBudgetSeconds(plan, largest) + plan.health.timeoutSeconds),
    // A migration command must be idempotent (README); a non-zero exit is never retried.
    runMigration: { startToCloseTimeout: '1 hour', heartbeatTimeout, retry: { ...retry, maximumAttempts: 3 }, cancellationType },
    // Deliveries retry inside the activity; a second attempt is for a worker that died. The notifier
    // sets startToCloseTimeout per batch, from its size.
    notify: { startToCloseTimeout: '5 minutes', heartbeatTimeout, retry: { ...retry, maximumAttempts: 2 } },
  };
}

/**
 * How long one cluster's smoke tests may take: the worst case in which every request takes its
 * test's full timeout, SMOKE_CONCURRENCY at once. Tests run one after another; through the pool
 * each has smokePoolRounds(hosts) requests; then (modes auto and direct) hosts not proven through
 * the pool get their tests directly, one connection per host, SMOKE_CONCURRENCY hosts at once.
 * Plus 30 s for connections and heartbeats. A retried attempt gets the whole budget again.
 */
export function smokeBudgetSeconds(plan: Plan, hosts: number): number {
  const each = plan.smoke.map((t) => t.timeoutSeconds);
  const pool = each.reduce((sum, s) => sum + Math.ceil(smokePoolRounds(hosts) / SMOKE_CONCURRENCY) * s, 0);
  const direct = plan.smokeCoverage?.mode === 'pool' ? 0 : Math.ceil(hosts / SMOKE_CONCURRENCY) * each.reduce((a, b) => a + b, 0);
  return Math.ceil(pool + direct + 30);
}

/** `override` adjusts one call, e.g. a single attempt for a best-effort read while reporting a failure. */
export type Call = <N extends Name>(name: N, summary: string, input: Input<N>, override?: Partial<ActivityOptions>) => Promise<Output<N>>;

export function activityCaller(plan: Plan): Call {
  const options = activityOptions(plan);
  const proxies = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });
  return (name, summary, input, override) => {
    const fn = proxies[name] as unknown as {
      executeWithOptions(o: ActivityOptions, args: unknown[]): Promise<Output<typeof name>>;
    };
    return fn.executeWithOptions({ ...options[name], ...override, summary }, [input]);
  };
}

/** How many attempts a call of this activity gets (for messages after the last one failed). */
export function attemptsOf(name: string): number {
  return ['deployHosts', 'inspectHosts', 'readFleet', 'smokeTest'].includes(name)
    ? WORKER_ATTEMPTS
    : name === 'runMigration'
      ? 3
      : LB_ATTEMPTS;
}
