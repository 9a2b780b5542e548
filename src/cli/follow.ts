// Following a run until it ends: status --watch and deploy --wait.
import type { DeploymentStatus } from '../workflows/state';
import { CliError, EXIT, messageOf } from './errors';
import type { RunRef, Session } from './context';
import { LiveArea, sleep } from './live-area';
import { loadRunView, type RunView } from './run-view';
import { progressText, renderStatus, statusLine } from './status-view';

export interface FollowOptions {
  intervalMs: number;
  json: boolean;
  /** Full table (status --watch) or one line per change on a pipe (deploy --wait). */
  compactOnPipe?: boolean;
  /** Draw nothing while following (deploy --wait --json prints one document at the end). */
  quiet?: boolean;
}

export async function refreshRun(session: Session, run: RunRef): Promise<RunRef> {
  const d = await run.handle.describe();
  return { ...run, running: d.status.name === 'RUNNING', statusName: d.status.name, closeTime: d.closeTime };
}

/** Redraws until the run ends; returns the last view. */
export async function follow(session: Session, first: RunRef, opts: FollowOptions): Promise<RunView> {
  const area = new LiveArea();
  // Ctrl-C stops watching, not the run: it is durable and goes on without us.
  const onInterrupt = () => {
    process.stderr.write(`\nstopped watching; the run goes on. Again: bluegreen status ${first.environment} --watch\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await followLoop(session, first, opts, area);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

async function followLoop(session: Session, first: RunRef, opts: FollowOptions, area: LiveArea): Promise<RunView> {
  let run = first;
  for (;;) {
    let view: RunView | undefined;
    let problem: string | undefined;
    try {
      run = await refreshRun(session, run);
      view = await loadRunView(session, run);
    } catch (err) {
      // A worker restart or a network blip should not end the watch: say so and keep trying.
      problem = err instanceof CliError ? `${err.message}${err.hint ? ` (${err.hint})` : ''}` : messageOf(err);
    }
    if (view) {
      if (opts.quiet) {
        // nothing to draw
      } else if (opts.json) area.draw(JSON.stringify(view), JSON.stringify(view.status ?? view.failure ?? ''));
      else if (opts.compactOnPipe && !area.isTty && view.status) area.draw(progressLine(view.status, view));
      else area.draw(renderStatus(view), stableKey(view));
      if (!run.running) return view;
    } else if (problem && !opts.quiet) {
      area.draw(`(retrying) ${problem}`);
    }
    await sleep(opts.intervalMs);
  }
}

function progressLine(s: DeploymentStatus, v: RunView): string {
  if (s.outcome) return `${s.outcome}: ${s.reason ?? ''}`;
  if (v.temporalStatus !== 'RUNNING') return v.temporalStatus;
  const live = v.progress?.find((p) => p.activity === 'deployHosts');
  return live ? `${statusLine(s)}; ${progressText({ ...live, lastHeartbeat: undefined }, s)}` : statusLine(s);
}

function stableKey(v: RunView): string {
  return JSON.stringify({ t: v.temporalStatus, s: v.status, f: v.failure });
}

export function exitFor(v: RunView): number {
  if (v.temporalStatus === 'RUNNING') return EXIT.ok;
  return v.status?.outcome === 'succeeded' && v.temporalStatus === 'COMPLETED' ? EXIT.ok : EXIT.failed;
}
