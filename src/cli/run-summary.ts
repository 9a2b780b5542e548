// One JSON document describing how a followed run ended (`deploy --wait --json`): what a script needs
// to decide what to do next, without parsing the table.
import type { DeploymentStatus } from '../workflows/state';
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
  hosts: { cluster: string; host: string; release: string | null; pool: string; phase: string; lastError?: string; reportedRelease?: string }[];
  decisions: DeploymentStatus['decisions'];
  failure?: DeploymentStatus['failure'];
  rollback?: DeploymentStatus['rollback'];
  /** A recovery's survey (host by host, before it changed anything) and what it did per cluster. */
  recovery?: DeploymentStatus['recovery'];
  /** The process's exit code: 0 only if the run succeeded. */
  exitCode: number;
}

export function runSummary(view: RunView, exitCode: number): RunSummary {
  const s = view.status;
  return {
    environment: view.environment,
    workflowId: view.workflowId,
    runId: view.runId,
    link: view.link,
    temporalStatus: view.temporalStatus,
    outcome: s?.outcome ?? view.temporalStatus.toLowerCase(),
    reason: s?.reason ?? view.failure ?? '',
    release: s?.release,
    fromRelease: s?.fromRelease,
    migrated: s?.migrated,
    steps: (s?.steps ?? []).map((st) => ({ step: st.step, ...(st.cluster ? { cluster: st.cluster } : {}), ms: st.ms ?? 0 })),
    hosts: (s?.clusters ?? []).flatMap((c) =>
      c.hosts.map((h) => ({
        cluster: c.name,
        host: h.name,
        release: h.release,
        pool: h.pool,
        phase: h.phase,
        ...(h.lastError ? { lastError: h.lastError } : {}),
        ...(h.reportedRelease ? { reportedRelease: h.reportedRelease } : {}),
      })),
    ),
    decisions: s?.decisions ?? [],
    ...(s?.failure ? { failure: s.failure } : {}),
    ...(s?.rollback ? { rollback: s.rollback } : {}),
    ...(s?.recovery ? { recovery: s.recovery } : {}),
    exitCode,
  };
}
