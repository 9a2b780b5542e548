// What `deploy` and `recover` do once their run has started: say where it is (id, run, Temporal
// Web), warn when no worker listens, then either stop there or follow the run to its end.
import { webLink } from '../config';
import { findRun, type Session } from './context';
import { exitFor, follow } from './follow';
import { runSummary } from './run-summary';
import { renderStatus } from './status-view';

export interface StartedRun {
  environment: string;
  workflowId: string;
  firstExecutionRunId: string;
  /** The first line, e.g. "Started the deployment of ...". */
  headline: string;
}

export interface FollowOptions {
  wait?: boolean;
  json?: boolean;
  interval: string;
}

export async function announceAndFollow(
  session: Session,
  started: StartedRun,
  opts: FollowOptions,
  setExit: (n: number) => void,
): Promise<void> {
  const { environment, workflowId, firstExecutionRunId: runId } = started;
  const { taskQueue } = session.settings;
  const link = webLink(session.settings, workflowId, runId);
  // With --json, stdout carries the one document; everything for people goes to stderr.
  const say = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  say(started.headline);
  say(`workflow  ${workflowId}`);
  say(`run       ${runId}`);
  say(`web       ${link}`);
  if (!(await hasWorker(session, taskQueue))) {
    say(`warning: no worker polls task queue "${taskQueue}" yet; the run waits until one starts (npm run worker, see README)`);
  }
  if (!opts.wait) {
    if (opts.json) console.log(JSON.stringify({ environment, workflowId, runId, link }));
    else say(`Follow it: bluegreen status ${environment} --watch`);
    return;
  }
  const run = await findRun(session, environment, runId);
  const intervalMs = Number(opts.interval) * 1000 || 1000;
  const last = await follow(session, run, { intervalMs, json: false, compactOnPipe: true, quiet: Boolean(opts.json) });
  const code = exitFor(last);
  if (opts.json) console.log(JSON.stringify(runSummary(last, code), null, 2));
  else if (!process.stdout.isTTY) console.log(renderStatus(last));
  setExit(code);
}

export async function hasWorker(session: Session, taskQueue: string): Promise<boolean> {
  try {
    const r = await session.client.workflowService.describeTaskQueue({
      namespace: session.settings.namespace,
      taskQueue: { name: taskQueue, kind: 1 },
      taskQueueType: 1, // workflow tasks
    });
    return (r.pollers?.length ?? 0) > 0;
  } catch {
    return true; // unknown: do not warn
  }
}
