// The blue-green deployment: preflight, then for each cluster in order standby → deploy → verify →
// live (step 5 is the loop), then migrate. On failure, abort or cancellation it rolls back cluster by
// cluster, most recent first, so that the live pool is never empty.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Plan } from '../plan/schema';
import { PlanError, parsePlan } from '../plan/validate';
import { activityCaller } from './activity-calls';
import { AbortRequested, Control, GateRejected } from './control';
import { ENVIRONMENT, FROM_RELEASE, OUTCOME, RELEASE } from './search-attributes';
import { bake, deploy, errorMessage, live, migrate, openBakeWindow, preflight, promoteGate, resumeStep, standby, step, verify, type StepContext } from './steps';
import { rollback } from './rollback';
import { Notifier, type NotifierCarry } from './notifier';
import { bakeSummary } from './bake-rules';
import { initialStatus, toResult, type DeploymentResult, type DeploymentStatus } from './state';

/** Run ids a deployment remembers across continue-as-new (decisions naming one of them apply). */
const MAX_RUN_IDS = 20;

/**
 * What a run hands to the run it continues as (while waiting at a gate): where it stood and all it
 * knew. Never written by hand; the first run of a deployment has none.
 */
export interface Resumed {
  gate: string;
  status: DeploymentStatus;
  touched: string[];
  runIds: string[];
  /** Notifications not yet reported back, and their numbering (plans with `notify` only). */
  notify?: NotifierCarry;
}

export async function blueGreenDeployment(input: unknown, resumed?: Resumed): Promise<DeploymentResult> {
  const plan = validateInput(input);
  const status = resumed?.status ?? initialStatus(plan);
  const control = new Control(plan, status, resumed?.runIds ?? []);
  const call = activityCaller(plan);
  const notifier = new Notifier(plan, status, call, 'deployment', resumed?.notify);
  if (notifier.enabled) control.events = notifier;
  const ctx: StepContext = { plan, status, call, control, notifier };
  upsertSearchAttributes([
    { key: ENVIRONMENT, value: plan.environment },
    { key: RELEASE, value: plan.release },
    { key: FROM_RELEASE, value: plan.currentRelease },
  ]);
  if (!resumed) notifier.runStarted();

  const touched: string[] = resumed?.touched ?? [];
  // Where the run stood when the cancellation arrived: a cluster's deploy may still finish its hosts
  // before the cancellation takes effect, and the reason must name the step the operator cancelled.
  CancellationScope.current().cancelRequested.catch(() => {
    ctx.cancelledDuring ??= status.cluster ? `${status.step} of ${status.cluster}` : status.step;
  });
  control.carryOn = (gate) => {
    // Control has let deliveries in flight settle (bounded); what is left goes to the next run.
    const notify = notifier.carry();
    return continueAsNew<typeof blueGreenDeployment>(input, {
      gate,
      status,
      touched,
      runIds: [...control.earlierRunIds, workflowInfo().runId].slice(-MAX_RUN_IDS),
      ...(notify ? { notify } : {}),
    });
  };
  // Where a resumed run picks up: at the promote gate of this cluster, or at the migrate gate.
  const resumeAt = resumed ? (resumed.gate === 'migrate' ? plan.order.length : plan.order.indexOf(resumed.gate.replace(/^promote-/, ''))) : -1;
  try {
    if (!resumed) {
      await step(ctx, 'preflight', undefined, () => preflight(ctx));
      await control.safePoint();
    }
    for (const [i, cluster] of plan.order.entries()) {
      if (i < resumeAt) continue;
      if (i === resumeAt) {
        await resumeStep(ctx, () => promoteGate(ctx, cluster));
      } else {
        touched.push(cluster);
        await step(ctx, 'standby', cluster, () => standby(ctx, cluster));
        await control.safePoint();
        await step(ctx, 'deploy', cluster, () => deploy(ctx, cluster, plan.release));
        await control.safePoint();
        await step(ctx, 'verify', cluster, () => verify(ctx, cluster, plan.release, { promoteGate: true }));
      }
      await control.safePoint();
      if (plan.bake) {
        // Without a bake the run's commands stay exactly as they were (recorded histories replay).
        const bakeWindow = await step(ctx, 'live', cluster, async () => {
          const opened = await openBakeWindow(ctx, cluster);
          await live(ctx, cluster);
          return opened;
        });
        await control.safePoint();
        await step(ctx, 'bake', cluster, () => bake(ctx, cluster, bakeWindow));
      } else {
        await step(ctx, 'live', cluster, () => live(ctx, cluster));
      }
      await control.safePoint();
    }
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // waiting at a gate, as a new run
    return await failBeforeMigration(ctx, touched, err);
  }

  try {
    if (resumeAt === plan.order.length) await resumeStep(ctx, () => migrate(ctx));
    else await step(ctx, 'migrate', undefined, () => migrate(ctx));
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // waiting at the migrate gate, as a new run
    // Stopped by an operator at the migrate gate, before the migration ran: the schema is unchanged,
    // so abort and cancel roll back as they do at any other safe point (README: How it fails safe).
    // The patch keeps runs that already ended this way under the old code replaying as they ran.
    const byOperator = err instanceof AbortRequested || isCancellation(err) || CancellationScope.current().consideredCancelled;
    if (byOperator && !status.migrated && patched('operator-stop-at-migrate-gate-rolls-back')) {
      return await failBeforeMigration(ctx, touched, err);
    }
    const why = `migrate failed: ${describeFailure(err)}`;
    status.failure ??= { kind: isCancellation(err) ? 'cancel' : 'failure', step: 'migrate', message: why, at: new Date().toISOString() };
    if (status.failure.kind === 'failure') notifier.stepFailed(status.failure);
    const reason = status.migrated
      ? `${why}. The migration step had started, so the schema may have changed: nothing was rolled back. ` +
        `Every cluster runs ${plan.release} and is live. Check the migration's output, then re-run it (it must be idempotent) or fix the schema by hand.`
      : `${why}. The migration did not run; every cluster runs ${plan.release} and is live. Run the migration later, or deploy ${plan.currentRelease} again to go back.`;
    return await finish(ctx, 'failed', reason);
  }
  return await finish(ctx, 'succeeded', `every cluster runs ${plan.release} and is live${bakeSummary(status.bakes)}${status.migrated ? '; migration done' : ''}`);
}

function validateInput(input: unknown): Plan {
  try {
    return parsePlan(input);
  } catch (err) {
    if (err instanceof PlanError) throw ApplicationFailure.nonRetryable(err.message, 'PlanError', { issues: err.issues });
    throw err;
  }
}

async function failBeforeMigration(ctx: StepContext, touched: string[], err: unknown): Promise<DeploymentResult> {
  const { status } = ctx;
  // Cancellation of the run, however the step in flight reported it.
  const cancelled = isCancellation(err) || CancellationScope.current().consideredCancelled;
  const where = status.cluster ? `${status.step} of ${status.cluster}` : status.step;
  const kind = cancelled ? 'cancel' : err instanceof AbortRequested ? 'abort' : err instanceof GateRejected ? 'gate' : 'failure';
  const why =
    kind === 'cancel'
      ? `the run was cancelled during ${ctx.cancelledDuring ?? where}`
      : kind === 'failure' && status.step === 'preflight'
        ? describeFailure(err) // "Preflight refused to start; nothing was changed: ..." says it all
        : kind === 'failure'
        ? `${where} failed${status.failure?.host ? ` on ${status.failure.host}` : ''}: ${withoutHost(describeFailure(err), status.failure?.host)}`
        : `${describeFailure(err)} (during ${where})`;
  if (cancelled) status.cancelled = true;
  // A host failure is already recorded with its host; anything else is recorded here.
  if (!status.failure || kind !== 'failure') {
    status.failure = { kind, step: status.step, cluster: status.cluster, message: why, at: new Date().toISOString() };
  }
  if (kind === 'failure') ctx.notifier?.stepFailed(status.failure);
  // A cancelled run ends cancelled, even if the step in flight reported the cancellation as its own failure.
  const rethrow = cancelled ? (isCancellation(err) ? err : new CancelledFailure(why)) : undefined;
  if (touched.length === 0) {
    // Failed in preflight: nothing changed, nothing to undo.
    return finish(ctx, 'failed', why, rethrow);
  }
  ctx.notifier?.rollbackStarted(why, [...touched].reverse(), kind === 'failure' ? undefined : status.failure);
  // Rollback must run even while the run is being cancelled.
  const rolledBack = await CancellationScope.nonCancellable(() => rollback(ctx, touched, why));
  ctx.notifier?.rollbackFinished(rolledBack.ok, rolledBack.reason, status.rollback);
  return finish(ctx, rolledBack.ok ? 'rolled-back' : 'failed', rolledBack.reason, rethrow);
}

/** "green-2: install v2: ..." reads "install v2: ..." after "failed on green-2: ". */
function withoutHost(message: string, host: string | undefined): string {
  return host && message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
}

function describeFailure(err: unknown): string {
  if (err instanceof AbortRequested) return err.message;
  if (err instanceof GateRejected) return err.message;
  return errorMessage(err);
}

async function finish(
  ctx: StepContext,
  outcome: DeploymentResult['outcome'],
  reason: string,
  rethrow?: unknown,
): Promise<DeploymentResult> {
  ctx.status.step = 'done';
  ctx.status.cluster = undefined;
  ctx.status.outcome = outcome;
  ctx.status.reason = reason;
  upsertSearchAttributes([{ key: OUTCOME, value: outcome }]);
  setCurrentDetails(`**${outcome}**: ${reason}`);
  ctx.notifier?.outcome(outcome, reason);
  // Bounded: a receiver that is down or slow delays the end of the run by seconds, never fails it.
  await ctx.notifier?.settle();
  const result = toResult(ctx.status, outcome, reason);
  // A cancelled run cannot wait in its own (cancelled) scope; its handlers still get to finish.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (rethrow) throw rethrow;
  if (outcome === 'succeeded') return result;
  // A run that did not ship its release shows as Failed in Temporal Web; the result rides along.
  throw ApplicationFailure.nonRetryable(reason, outcome === 'rolled-back' ? 'DeploymentRolledBack' : 'DeploymentFailed', result);
}
