// A run that did not ship its release fails with an ApplicationFailure whose details carry the
// DeploymentResult (see workflows/deployment.ts). Clients read it back here.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DeploymentResult } from '../workflows/state';

export function isDeploymentResult(x: unknown): x is DeploymentResult {
  return typeof x === 'object' && x !== null && 'outcome' in x && 'hosts' in x && 'steps' in x;
}

/** The DeploymentResult a failed run carries, or undefined for any other error. */
export function resultOfFailedRun(err: unknown): DeploymentResult | undefined {
  const details = err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure ? err.cause.details?.[0] : undefined;
  return isDeploymentResult(details) ? details : undefined;
}
