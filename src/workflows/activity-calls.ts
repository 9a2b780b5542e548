// How the workflow calls its activities: timeouts and retries per kind of work, and a summary on
// each call so Temporal Web names the step, cluster and host of every activity.
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_ERRORS } from '../activities/types';
import type { Plan } from '../plan/schema';

type Name = keyof Activities;
type Input<N extends Name> = Parameters<Activities[N]>[0];
type Output<N extends Name> = Awaited<ReturnType<Activities[N]>>;

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '20 seconds',
  maximumAttempts: 4,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS],
};

/** Timeouts derive from the plan so a long drain or a slow start has room, and nothing hangs past it. */
export function activityOptions(plan: Plan): Record<Name, ActivityOptions> {
  const quick: ActivityOptions = { startToCloseTimeout: '1 minute', retry };
  const ssh: ActivityOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '10 seconds', retry };
  const lbWait = (seconds: number): ActivityOptions => ({
    startToCloseTimeout: `${seconds + 60} seconds`,
    heartbeatTimeout: '10 seconds',
    retry,
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
    },
    smokeTest: { startToCloseTimeout: '5 minutes', heartbeatTimeout: '30 seconds', retry },
    // A migration command must be idempotent (README); a non-zero exit is never retried.
    runMigration: { startToCloseTimeout: '1 hour', heartbeatTimeout: '10 seconds', retry },
  };
}

export type Call = <N extends Name>(name: N, summary: string, input: Input<N>) => Promise<Output<N>>;

export function activityCaller(plan: Plan): Call {
  const options = activityOptions(plan);
  const proxies = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });
  return (name, summary, input) => {
    const fn = proxies[name] as unknown as {
      executeWithOptions(o: ActivityOptions, args: unknown[]): Promise<Output<typeof name>>;
    };
    return fn.executeWithOptions({ ...options[name], summary }, [input]);
  };
}
