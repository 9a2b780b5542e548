// The plan a run works from: checked by a local activity, where zod is loaded once per worker.
// Evaluating the schema in the workflow sandbox cost every new workflow (and every replay) 50-90 ms
// of its first workflow task. A local activity adds no round trip to the server, only a marker.
import { ActivityFailure, ApplicationFailure, patched, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CheckPlanInput } from '../activities/types';
import type { Plan } from '../plan/schema';
import { planOrFail } from './outcome';

const { checkPlan } = proxyLocalActivities<Pick<Activities, 'checkPlan'>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['PlanError'] },
});

/** The validated plan (defaults applied), or a non-retryable PlanError failure naming every problem. */
export async function loadPlan(input: unknown, kind: CheckPlanInput['kind']): Promise<Plan> {
  // A patch the first workflow task decides must be decided before the local activity: on replay
  // its result comes in a later activation, and a patch marker recorded after it would meet no
  // patched() call (a nondeterminism error). Control asks this one too; patched() remembers.
  patched('decisions-name-release');
  if (patched('plan-checked-by-local-activity')) {
    try {
      return await checkPlan({ input, kind });
    } catch (err) {
      // The same failure as a check in the workflow gave: the run fails with the plan's problems.
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === 'PlanError') {
        throw ApplicationFailure.nonRetryable(cause.message, 'PlanError', ...(cause.details ?? []));
      }
      throw err;
    }
  }
  // Runs started before: checked in the workflow as they were. Eager: bundled, but evaluated only here.
  const { parsePlan, parseRecoveryPlan } = await import(/* webpackMode: "eager" */ '../plan/validate');
  return planOrFail(() => (kind === 'recovery' ? parseRecoveryPlan(input) : parsePlan(input)));
}
