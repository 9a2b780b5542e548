// How a run ends, in words: why it stopped (failure, abort, rejected gate, cancellation), what the
// reason says, and the last status, search attribute and result. Shared by the deployment and the
// recovery, so both say the same thing the same way.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Plan } from '../plan/schema';
import { PlanError } from '../plan/plan-error';
import { bakeSummary } from './bake-rules';
import { AbortRequested, GateRejected } from './control';
import { OUTCOME } from './search-attributes';
import { errorMessage, type StepContext } from './steps';
import { toResult, type DeploymentResult, type DeploymentStatus, type FailureRecord, type Outcome } from './state';

/** A plan the workflow cannot run fails the run at once, naming every problem, and touches nothing. */
export function planOrFail(parse: () => Plan): Plan {
  try {
    return parse();
  } catch (err) {
    if (err instanceof PlanError) throw ApplicationFailure.nonRetryable(err.message, 'PlanError', { issues: err.issues });
    throw err;
  }
}

/** "deploy of green", or "preflight": where the run stands. */
export function whereNow(status: DeploymentStatus): string {
  return status.cluster ? `${status.step} of ${status.cluster}` : status.step;
}

/**
 * Remembers where the run stood when its cancellation arrived: a cluster's deploy may still finish
 * its hosts before the cancellation takes effect, and the reason must name the step the operator cancelled.
 */
export function noteCancellation(ctx: StepContext): void {
  CancellationScope.current().cancelRequested.catch(() => {
    ctx.cancelledDuring ??= whereNow(ctx.status);
  });
}

export interface Stop {
  kind: FailureRecord['kind'];
  /** The reason, one sentence. */
  why: string;
  /** A cancelled run ends cancelled, even if the step in flight reported it as its own failure. */
  rethrow?: unknown;
}

/** Classifies what stopped the forward run, records it in the status, and says why. */
export function recordStop(ctx: StepContext, err: unknown): Stop {
  const { status } = ctx;
  const kind = stopKind(err);
  const why = describeStop(ctx, kind, err);
  if (kind === 'cancel') status.cancelled = true;
  // A host failure is already recorded with its host; anything else is recorded here.
  if (!status.failure || kind !== 'failure') {
    status.failure = { kind, step: status.step, cluster: status.cluster, message: why, at: new Date().toISOString() };
  }
  if (kind === 'failure') ctx.notifier?.stepFailed(status.failure);
  if (kind !== 'cancel') return { kind, why };
  return { kind, why, rethrow: isCancellation(err) ? err : new CancelledFailure(why) };
}

function stopKind(err: unknown): FailureRecord['kind'] {
  // Cancellation of the run, however the step in flight reported it.
  if (isCancellation(err) || CancellationScope.current().consideredCancelled) return 'cancel';
  if (err instanceof AbortRequested) return 'abort';
  if (err instanceof GateRejected) return 'gate';
  return 'failure';
}

function describeStop(ctx: StepContext, kind: FailureRecord['kind'], err: unknown): string {
  const { status } = ctx;
  const where = whereNow(status);
  switch (kind) {
    case 'cancel':
      return `the run was cancelled during ${ctx.cancelledDuring ?? where}`;
    case 'abort':
    case 'gate':
      return `${errorMessage(err)} (during ${where})`;
    case 'failure': {
      // "Preflight refused to start; nothing was changed: ..." says it all.
      if (status.step === 'preflight') return errorMessage(err);
      const host = status.failure?.host;
      return `${where} failed${host ? ` on ${host}` : ''}: ${withoutHost(errorMessage(err), host)}`;
    }
  }
}

/** "green-2: install v2: ..." reads "install v2: ..." after "failed on green-2: ". */
function withoutHost(message: string, host: string | undefined): string {
  return host && message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
}

/** Why a run that reached step 6 did not finish it; the schema may or may not have changed. */
export function recordMigrationFailure(ctx: StepContext, err: unknown): string {
  const { plan, status } = ctx;
  const why = `migrate failed: ${errorMessage(err)}`;
  status.failure ??= { kind: isCancellation(err) ? 'cancel' : 'failure', step: 'migrate', message: why, at: new Date().toISOString() };
  if (status.failure.kind === 'failure') ctx.notifier?.stepFailed(status.failure);
  if (status.migrated) {
    return (
      `${why}. The migration step had started, so the schema may have changed: nothing was rolled back. ` +
      `Every cluster runs ${plan.release} and is live. Check the migration's output, then re-run it (it must be idempotent) or fix the schema by hand.`
    );
  }
  return `${why}. The migration did not run; every cluster runs ${plan.release} and is live. Run the migration later, or deploy ${plan.currentRelease} again to go back.`;
}

export function succeeded(plan: Plan, status: DeploymentStatus): string {
  return `every cluster runs ${plan.release} and is live${bakeSummary(status.bakes)}${status.migrated ? '; migration done' : ''}`;
}

/**
 * Ends the run: last status, search attribute and Temporal Web details, then the result. A run that
 * did not ship its release shows as Failed in Temporal Web, its result riding along in the failure.
 */
export async function finish(ctx: StepContext, outcome: Outcome, reason: string, rethrow?: unknown): Promise<DeploymentResult> {
  ctx.status.step = 'done';
  ctx.status.cluster = undefined;
  ctx.status.outcome = outcome;
  ctx.status.reason = reason;
  upsertSearchAttributes([{ key: OUTCOME, value: outcome }]);
  setCurrentDetails(ctx.status.kind === 'recovery' ? `**Recovery ${outcome}**: ${reason}` : `**${outcome}**: ${reason}`);
  ctx.notifier?.outcome(outcome, reason);
  // Bounded: a receiver that is down or slow delays the end of the run by seconds, never fails it.
  await ctx.notifier?.settle();
  const result = toResult(ctx.status, outcome, reason);
  // A cancelled run cannot wait in its own (cancelled) scope; its handlers still get to finish.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (rethrow) throw rethrow;
  if (outcome === 'succeeded') return result;
  throw ApplicationFailure.nonRetryable(reason, failureType(ctx.status, outcome), result);
}

function failureType(status: DeploymentStatus, outcome: Exclude<Outcome, 'succeeded'>): string {
  if (status.kind === 'recovery') return 'RecoveryFailed';
  switch (outcome) {
    case 'rolled-back':
      return 'DeploymentRolledBack';
    case 'failed':
      return 'DeploymentFailed';
  }
}
