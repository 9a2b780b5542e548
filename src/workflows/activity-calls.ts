// How the workflow calls its activities: timeouts and retries per kind of work, and a summary on
// each call so Temporal Web names the step, cluster and host of every activity.
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_ERRORS } from '../activities/types';
import type { Plan } from '../plan/schema';

type Name = keyof Activities;
type Input<N extends Name> = Parameters<Activities[N]>[0];
type Output<N extends Name> = Awaited<ReturnType<Activities[N]>>;

/** LB calls: 4 attempts, 1 + 2 + 4 s apart, ride out an LB API that is away for about 7 s. */
export const LB_ATTEMPTS = 4;
/** SSH calls: 3 attempts; each already waits up to the connect timeout, so a dead host costs ~3x that, not more. */
export const SSH_ATTEMPTS = 3;

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '20 seconds',
  maximumAttempts: LB_ATTEMPTS,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS],
};
const sshRetry = { ...retry, maximumAttempts: SSH_ATTEMPTS };

// On cancellation the workflow waits until the activity has really stopped (they heartbeat, so they
// see it within seconds) before the rollback starts: a rollback must never race a half-done install.
const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** Timeouts derive from the plan so a long drain or a slow start has room, and nothing hangs past it. */
export function activityOptions(plan: Plan): Record<Name, ActivityOptions> {
  const quick: ActivityOptions = { startToCloseTimeout: '1 minute', retry, cancellationType };
  const ssh: ActivityOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '10 seconds', retry: sshRetry, cancellationType };
  const lbWait = (seconds: number): ActivityOptions => ({
    startToCloseTimeout: `${seconds + 60} seconds`,
    heartbeatTimeout: '10 seconds',
    retry,
    cancellationType,
  });
  return {
    readLoadBalancer: quick,
    readHostRelease: ssh,
    probeHealth: quick,
    drainFromLive: lbWait(plan.drain.deadlineSeconds),
    enterPool: lbWait(plan.health.timeoutSeconds),
    leavePool: quick,
    installRelease: ssh,
    waitHealthy: {
      startToCloseTimeout: `${plan.health.timeoutSeconds + 60} seconds`,
      heartbeatTimeout: '10 seconds',
      // The activity polls until the plan's deadline and then fails for good (non-retryable); the
      // retries here are for a worker that died while waiting.
      retry,
      cancellationType,
    },
    smokeTest: { startToCloseTimeout: '5 minutes', heartbeatTimeout: '30 seconds', retry, cancellationType },
    // A migration command must be idempotent (README); a non-zero exit is never retried.
    runMigration: { startToCloseTimeout: '1 hour', heartbeatTimeout: '10 seconds', retry: sshRetry, cancellationType },
  };
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
  return ['readHostRelease', 'installRelease', 'runMigration'].includes(name) ? SSH_ATTEMPTS : LB_ATTEMPTS;
}
