// Everything `status` shows about a run: the workflow's own status (query) while it runs, its
// result once it has ended (the result rides in the failure's details for a rolled-back run).
import { WorkflowFailedError } from '@temporalio/client';
import { resultOfFailedRun } from '../client/result';
import { MESSAGE_NAMES } from '../workflows/message-names';
import type { DeploymentResult, DeploymentStatus } from '../workflows/state';
import { CliError, messageOf } from './errors';
import { unansweredQuery } from './options';
import type { RunRef, Session } from './context';
import { readLiveProgress, type LiveProgress } from './live-progress';

export interface RunView {
  environment: string;
  workflowId: string;
  runId: string;
  /** Temporal's status of the run: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  temporalStatus: string;
  startTime: string;
  closeTime?: string;
  link: string;
  status?: DeploymentStatus;
  /** While a deploy or smoke step runs: its progress from the activity's heartbeat (Temporal's pending activity). */
  progress?: LiveProgress[];
  /** Why the run ended without the workflow's own result, or why its status could not be read. */
  failure?: string;
  hint?: string;
}

const QUERY_DEADLINE_MS = 10_000;

export async function loadRunView(session: Session, run: RunRef): Promise<RunView> {
  const view: RunView = {
    environment: run.environment,
    workflowId: run.workflowId,
    runId: run.runId,
    temporalStatus: run.statusName,
    startTime: run.startTime.toISOString(),
    closeTime: run.closeTime?.toISOString(),
    link: run.link,
  };
  if (run.running) {
    try {
      const [status, live] = await Promise.all([queryStatus(session, run), readLiveProgress(session, run)]);
      view.status = status;
      if (live.progress.length > 0) view.progress = live.progress;
    } catch (err) {
      // Still show what Temporal knows (id, link); the caller exits 1 with the hint.
      if (!(err instanceof CliError)) throw err;
      view.failure = err.message;
      view.hint = err.hint;
    }
    return view;
  }
  try {
    view.status = fromResult(await run.handle.result());
  } catch (err) {
    const details = resultOfFailedRun(err);
    if (details) view.status = fromResult(details);
    else view.failure = err instanceof WorkflowFailedError ? messageOf(err.cause ?? err) : messageOf(err);
  }
  if (!view.status || !view.status.steps.some((s) => s.startedAt)) {
    // The query gives the full picture (decisions, step start times) when a worker is around.
    view.status = (await queryStatus(session, run, 3000).catch(() => undefined)) ?? view.status;
  }
  return view;
}

export async function queryStatus(session: Session, run: RunRef, deadlineMs = QUERY_DEADLINE_MS): Promise<DeploymentStatus> {
  try {
    return await session.connection.withDeadline(Date.now() + deadlineMs, () =>
      run.handle.query<DeploymentStatus>(MESSAGE_NAMES.statusQuery),
    );
  } catch (err) {
    throw unansweredQuery(run.workflowId, run.taskQueue, deadlineMs, messageOf(err));
  }
}

function fromResult(r: DeploymentResult): DeploymentStatus {
  const clusters = [...new Set(r.hosts.map((h) => h.cluster))];
  return {
    environment: r.environment,
    release: r.release,
    fromRelease: r.fromRelease,
    step: 'done',
    paused: false,
    abortRequested: false,
    migrated: r.migrated,
    outcome: r.outcome,
    reason: r.reason,
    clusters: clusters.map((name) => ({
      name,
      phase: 'live',
      hosts: r.hosts
        .filter((h) => h.cluster === name)
        .map((h) => ({ name: h.host, cluster: h.cluster, pool: h.pool, release: h.release, phase: h.phase, lastError: h.lastError })),
    })),
    decisions: r.decisions,
    ...(r.notifications ? { notifications: r.notifications } : {}),
    steps: r.steps.map((s) => ({ step: s.step, cluster: s.cluster, startedAt: '', ms: s.ms })),
    ...(r.bakes ? { bakes: r.bakes } : {}),
  };
}
