// One JSON document describing how a followed run ended (`deploy --wait --json`): what a script needs
// to decide what to do next, without parsing the table.
import { toResult, type DeploymentStatus } from '../workflows/state';
import type { RunView } from './run-view';

export interface RunSummary {
  environment: string;
  workflowId: string;
  runId: string;
  link: string;
  /** Temporal's status: COMPLETED, FAILED (rolled back or failed), CANCELLED, TERMINATED, ... */
  temporalStatus: string;
  /** The workflow's outcome (succeeded, rolled-back, failed), or Temporal's status in lower case when it has none. */
  outcome: string;
  reason: string;
  release?: string;
  fromRelease?: string;
  migrated?: boolean;
  steps: { step: string; cluster?: string; ms: number }[];
  hosts: {
    cluster: string;
    host: string;
    release: string | null;
    pool: string;
    phase: string;
    lastError?: string;
    reportedRelease?: string;
  }[];
  decisions: DeploymentStatus['decisions'];
  failure?: DeploymentStatus['failure'];
  rollback?: DeploymentStatus['rollback'];
  /** A recovery's survey (host by host, before it changed anything) and what it did per cluster. */
  recovery?: DeploymentStatus['recovery'];
  /** Each cluster's bake (plan.bake): window, samples, verdict, per-server figures. */
  bakes?: DeploymentStatus['bakes'];
  /** The process's exit code: 0 only if the run succeeded. */
  exitCode: number;
}

export function runSummary(view: RunView, exitCode: number): RunSummary {
  const s = view.status;
  const outcome = s?.outcome ?? view.temporalStatus.toLowerCase();
  const reason = s?.reason ?? view.failure ?? '';
  // The same per-host view as the run's own result; fields left undefined vanish from the JSON.
  const r = s ? toResult(s, s.outcome ?? 'failed', reason) : undefined;
  return {
    environment: view.environment,
    workflowId: view.workflowId,
    runId: view.runId,
    link: view.link,
    temporalStatus: view.temporalStatus,
    outcome,
    reason,
    release: r?.release,
    fromRelease: r?.fromRelease,
    migrated: r?.migrated,
    steps: r?.steps ?? [],
    hosts: r?.hosts ?? [],
    decisions: r?.decisions ?? [],
    failure: r?.failure,
    rollback: r?.rollback,
    recovery: r?.recovery,
    bakes: r?.bakes,
    exitCode,
  };
}
