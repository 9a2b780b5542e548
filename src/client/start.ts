// Starting a deployment run: one run per environment (the workflow id is derived from it and a
// second start is refused), with a summary and search attributes that make it readable in Temporal Web.
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Plan } from '../plan/schema';
import { workflowIdFor } from '../config';
import { blueGreenDeployment, recoverFleet } from '../workflows';
import { ENVIRONMENT, FROM_RELEASE, RELEASE, STEP } from '../workflows/search-attributes';

export class RunAlreadyActiveError extends Error {
  constructor(
    readonly environment: string,
    readonly workflowId: string,
  ) {
    super(
      `a deployment of environment "${environment}" is already running (workflow ${workflowId}); ` +
        `wait for it, or see it with: bluegreen status ${environment}`,
    );
    this.name = 'RunAlreadyActiveError';
  }
}

export interface StartOptions {
  taskQueue: string;
  /** Who starts the run (recorded in its details). */
  startedBy?: string;
  /** Overrides the id derived from the environment (tests only). */
  workflowId?: string;
}

export async function startDeployment(
  client: Client,
  plan: Plan,
  opts: StartOptions,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof blueGreenDeployment>> {
  const workflowId = opts.workflowId ?? workflowIdFor(plan.environment);
  const hosts = plan.order.map((c) => `${c}: ${plan.clusters[c]?.hosts.map((h) => h.name).join(', ')}`).join('; ');
  try {
    return await client.workflow.start(blueGreenDeployment, {
      taskQueue: opts.taskQueue,
      workflowId,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      args: [plan],
      staticSummary: `Deploy ${plan.release} to ${plan.environment} (from ${plan.currentRelease})`,
      staticDetails:
        `**Environment** ${plan.environment}  \n**Release** ${plan.currentRelease} → ${plan.release}  \n` +
        `**Order** ${plan.order.join(' → ')}  \n**Hosts** ${hosts}  \n` +
        `**Gates** promote ${plan.gates.promote.enabled ? 'on' : 'off'}, migrate ${plan.gates.migrate.enabled ? 'on' : 'off'}` +
        (opts.startedBy ? `  \n**Started by** ${opts.startedBy}` : ''),
      typedSearchAttributes: [
        { key: ENVIRONMENT, value: plan.environment },
        { key: RELEASE, value: plan.release },
        { key: FROM_RELEASE, value: plan.currentRelease },
        { key: STEP, value: 'preflight' },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RunAlreadyActiveError(plan.environment, workflowId);
    throw err;
  }
}

/**
 * Starts a recovery of the environment to `to`: the same workflow id as a deployment, so a recovery
 * never runs beside a deployment (or another recovery) of the same environment.
 */
export async function startRecovery(
  client: Client,
  plan: Plan,
  to: string,
  opts: StartOptions,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof recoverFleet>> {
  const workflowId = opts.workflowId ?? workflowIdFor(plan.environment);
  const hosts = plan.order.map((c) => `${c}: ${plan.clusters[c]?.hosts.map((h) => h.name).join(', ')}`).join('; ');
  try {
    return await client.workflow.start(recoverFleet, {
      taskQueue: opts.taskQueue,
      workflowId,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      args: [plan, to],
      staticSummary: `Recover ${plan.environment} to ${to}`,
      staticDetails:
        `**Recovery** of ${plan.environment}: every host to ${to}, cluster by cluster, clusters out of the live pool first  \n` +
        `**Hosts** ${hosts}` +
        (opts.startedBy ? `  \n**Started by** ${opts.startedBy}` : ''),
      typedSearchAttributes: [
        { key: ENVIRONMENT, value: plan.environment },
        { key: RELEASE, value: to },
        { key: STEP, value: 'survey' },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RunAlreadyActiveError(plan.environment, workflowId);
    throw err;
  }
}
