// Runs of the workflows for tests: a worker of its own on a task queue of its own, the run to its
// end, and its DeploymentResult whether it succeeded or failed (read back as clients do).
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { createActivities, type Activities } from '../../src/activities';
import { resultOfFailedRun } from '../../src/client/result';
import { blueGreenDeployment, recoverFleet } from '../../src/workflows';
import type { DeploymentResult } from '../../src/workflows/state';
import type { FakeFleet } from './fake-fleet';
import { uniqueId, withWorker, type TemporalHandles } from './temporal';

/** Both workflows answer the same queries and end with a DeploymentResult: one handle type serves both. */
export type RunHandle = WorkflowHandle<typeof blueGreenDeployment>;

export interface RunEnd {
  /** What the run returned, or the result its failure carries. */
  result?: DeploymentResult;
  /** The failure, when the run did not succeed. */
  error?: WorkflowFailedError;
  /** The failure's message, or the result's reason. */
  reason: string;
}

/** Waits for the run to end; any error other than the run's own failure is thrown. */
export async function endOf(handle: RunHandle): Promise<RunEnd> {
  try {
    const result = await handle.result();
    return { result, reason: result.reason };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    return { result: resultOfFailedRun(err), error: err, reason: err.cause?.message ?? '' };
  }
}

export interface RunOptions {
  /** Converge with recoverFleet(plan, recoverTo) instead of deploying the plan. */
  recoverTo?: string;
  workflowExecutionTimeout?: string;
}

/**
 * Starts a deployment of `plan` (or a recovery) with a worker over `activities` while `fn` runs;
 * `fn` gets the handle and returns what the test needs (by default, the run's end).
 */
export async function withRun<T>(
  temporal: TemporalHandles,
  activities: Activities,
  plan: unknown,
  fn: (handle: RunHandle) => Promise<T>,
  opts: RunOptions = {},
): Promise<T> {
  const taskQueue = uniqueId('tq');
  return withWorker(taskQueue, activities, async () => {
    const options = { taskQueue, workflowId: uniqueId('run'), workflowExecutionTimeout: opts.workflowExecutionTimeout ?? '2 minutes' };
    const handle = (
      opts.recoverTo === undefined
        ? await temporal.client.workflow.start(blueGreenDeployment, { ...options, args: [plan] })
        : await temporal.client.workflow.start(recoverFleet, { ...options, args: [plan, opts.recoverTo] })
    ) as RunHandle;
    return fn(handle);
  });
}

/** A run on the in-memory fleet, to its end. */
export function runOnFakeFleet(
  temporal: TemporalHandles,
  fleet: FakeFleet,
  plan: unknown = fleet.plan(),
  opts: RunOptions = {},
): Promise<RunEnd> {
  return withRun(temporal, createActivities(fleet.deps()), plan, endOf, opts);
}
