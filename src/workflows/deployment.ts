// The blue-green deployment, as the steps of DESIGN.md: 0 preflight, then for each cluster in plan
// order (5) 1 standby, 2 deploy, 3 verify, 4 live (and the bake, if the plan has one), and at last 6 migrate. A failure, abort or
// cancellation before step 6 rolls back cluster by cluster, most recent first, so that the live
// pool is never empty. How the run ends, in words, is outcome.ts.
import {
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  patched,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parsePlan } from '../plan/validate';
import { activityCaller } from './activity-calls';
import { AbortRequested, Control } from './control';
import { Notifier, type NotifierCarry } from './notifier';
import { finish, recordMigrationFailure, noteCancellation, planOrFail, recordStop, succeeded } from './outcome';
import { rollback } from './rollback';
import { ENVIRONMENT, FROM_RELEASE, RELEASE } from './search-attributes';
import {
  bake,
  deploy,
  forwardStep,
  live,
  migrate,
  openBakeWindow,
  promoteGate,
  resumeForwardStep,
  resumeStep,
  standby,
  step,
  verify,
  type StepContext,
} from './steps';
import { preflight } from './preflight';
import { initialStatus, type DeploymentResult, type DeploymentStatus } from './state';

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
  const { ctx, touched, resumeAt } = startRun(input, resumed);
  const { plan, status } = ctx;
  try {
    if (!resumed) await forwardStep(ctx, 'preflight', undefined, () => preflight(ctx)); // 0
    for (const [i, cluster] of plan.order.entries()) {
      // 5: steps 1-4 for each cluster in turn
      if (i < resumeAt) continue;
      if (i === resumeAt) {
        await resumeForwardStep(ctx, () => promoteGate(ctx, cluster)); // 3, still at its gate
      } else {
        touched.push(cluster);
        await forwardStep(ctx, 'standby', cluster, () => standby(ctx, cluster)); // 1
        await forwardStep(ctx, 'deploy', cluster, () => deploy(ctx, cluster, plan.release)); // 2
        await forwardStep(ctx, 'verify', cluster, () => verify(ctx, cluster, plan.release, { promoteGate: true })); // 3
      }
      await liveAndBake(ctx, cluster); // 4
    }
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // waiting at a gate, as a new run
    return await rollBack(ctx, touched, err);
  }

  try {
    // 6: no safe point after it; once the migration starts nothing is rolled back
    if (resumeAt === plan.order.length) await resumeStep(ctx, () => migrate(ctx));
    else await step(ctx, 'migrate', undefined, () => migrate(ctx));
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // waiting at the migrate gate, as a new run
    if (stoppedAtMigrateGate(status, err)) return await rollBack(ctx, touched, err);
    return await finish(ctx, 'failed', recordMigrationFailure(ctx, err));
  }
  return await finish(ctx, 'succeeded', succeeded(plan, status));
}

/** The run's context, fresh or carried over from the run it continues; where a resumed run picks up. */
function startRun(input: unknown, resumed: Resumed | undefined): { ctx: StepContext; touched: string[]; resumeAt: number } {
  const plan = planOrFail(() => parsePlan(input));
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
  noteCancellation(ctx);
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
  // At the promote gate of this cluster, or at the migrate gate (after the last cluster).
  const resumeAt = resumed
    ? resumed.gate === 'migrate'
      ? plan.order.length
      : plan.order.indexOf(resumed.gate.replace(/^promote-/, ''))
    : -1;
  return { ctx, touched, resumeAt };
}

/**
 * Step 4, and with a bake in the plan the bake after it (its window opens before the cluster goes
 * live). Without one the run's commands stay exactly as they were (recorded histories replay).
 */
async function liveAndBake(ctx: StepContext, cluster: string): Promise<void> {
  if (!ctx.plan.bake) {
    await forwardStep(ctx, 'live', cluster, () => live(ctx, cluster));
    return;
  }
  const bakeWindow = await forwardStep(ctx, 'live', cluster, async () => {
    const opened = await openBakeWindow(ctx, cluster);
    await live(ctx, cluster);
    return opened;
  });
  await forwardStep(ctx, 'bake', cluster, () => bake(ctx, cluster, bakeWindow));
}

/**
 * Stopped by an operator at the migrate gate, before the migration ran: the schema is unchanged, so
 * abort and cancel roll back as they do at any other safe point (README: How it fails safe). The
 * patch keeps runs that already ended this way under the old code replaying as they ran.
 */
function stoppedAtMigrateGate(status: DeploymentStatus, err: unknown): boolean {
  const byOperator = err instanceof AbortRequested || isCancellation(err) || CancellationScope.current().consideredCancelled;
  return byOperator && !status.migrated && patched('operator-stop-at-migrate-gate-rolls-back');
}

/** Before step 6: the clusters touched go back to the previous release; nothing touched, nothing to undo. */
async function rollBack(ctx: StepContext, touched: string[], err: unknown): Promise<DeploymentResult> {
  const stop = recordStop(ctx, err);
  if (touched.length === 0) return finish(ctx, 'failed', stop.why, stop.rethrow);
  ctx.notifier?.rollbackStarted(stop.why, [...touched].reverse(), stop.kind === 'failure' ? undefined : ctx.status.failure);
  // Rollback must run even while the run is being cancelled.
  const rolledBack = await CancellationScope.nonCancellable(() => rollback(ctx, touched, stop.why));
  ctx.notifier?.rollbackFinished(rolledBack.ok, rolledBack.reason, ctx.status.rollback);
  return finish(ctx, rolledBack.ok ? 'rolled-back' : 'failed', rolledBack.reason, stop.rethrow);
}
