// The two runners of one phase. Both get the same plan and report the same step names, so the
// report can put them side by side. The bench knows the workflow only through startDeployment and
// the run's result: activity names and worker internals may change under it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { startDeployment } from '../../src/client/start';
import { resultOfFailedRun } from '../../src/client/result';
import type { Plan } from '../../src/plan/schema';
import type { DeploymentResult } from '../../src/workflows/state';
import { startWorkerProcess, type WorkerProcess } from '../../test/support/worker-process';
import type { BaselineResult } from './baseline';
import { cpuMs, peakRssMb } from './proc';

export interface RunResult {
  outcome: string;
  reason?: string;
  wallMs: number;
  steps: Record<string, number>;
  /** bluegreen: the worker process; baseline: the script's own process. */
  peakRssMb: number;
  /** CPU time of that process during the run (not of sshd, the hosts or Temporal's server). */
  cpuMs?: number;
  historyLength?: number;
  /** Baseline only: hosts its smoke requests never reached. */
  smokeUnreached?: string[];
}

export interface BenchWorker {
  process: WorkerProcess;
  taskQueue: string;
  /** Spawn until its "worker: task queue" line (polled every 50 ms by startWorkerProcess). */
  readyMs: number;
}

export async function startBenchWorker(address: string, taskQueue: string, keyPath: string, knownHostsPath: string): Promise<BenchWorker> {
  const t = performance.now();
  const process = await startWorkerProcess({
    TEMPORAL_ADDRESS: address,
    BG_TASK_QUEUE: taskQueue,
    BG_SSH_KEY: keyPath,
    BG_KNOWN_HOSTS: knownHostsPath,
  });
  return { process, taskQueue, readyMs: Math.round(performance.now() - t) };
}

const stepKey = (s: { step: string; cluster?: string }) => (s.cluster ? `${s.step}:${s.cluster}` : s.step);

export async function runBluegreen(
  client: Client,
  worker: BenchWorker,
  plan: Plan,
  workflowId: string,
  /** Where to write the run's history as JSON (Temporal's own format), for a closer look. */
  historyDir?: string,
): Promise<RunResult> {
  const cpuBefore = cpuMs(worker.process.pid);
  const t0 = performance.now();
  const handle = await startDeployment(client, plan, { taskQueue: worker.taskQueue, workflowId });
  let result: DeploymentResult;
  try {
    result = await handle.result();
  } catch (err) {
    const failed = resultOfFailedRun(err);
    if (!failed) throw err;
    result = failed;
  }
  const wallMs = Math.round(performance.now() - t0);
  const cpu = cpuMs(worker.process.pid) - cpuBefore;
  const { historyLength } = await handle.describe();
  const history = await handle.fetchHistory();
  if (historyDir) fs.writeFileSync(path.join(historyDir, `${workflowId}.json`), historyToJSON(history));
  return {
    outcome: result.outcome,
    reason: result.outcome === 'succeeded' ? undefined : result.reason,
    wallMs,
    steps: { ...Object.fromEntries(result.steps.map((s) => [stepKey(s), s.ms])), ...activityTimes(history.events ?? [], plan) },
    peakRssMb: peakRssMb(worker.process.pid),
    cpuMs: cpu,
    historyLength,
  };
}

const baselineScript = fileURLToPath(new URL('./baseline.ts', import.meta.url));

/**
 * The baseline in its own process, like the worker: the load generator's event loop (in this
 * process) then slows neither runner, and its peak RSS is its own.
 */
export async function runBaseline(
  plan: Plan,
  opts: { keyPath: string; knownHostsPath: string; workDir: string; /** 0: all hosts at once. */ preflightWidth: number },
  register: (kill: () => void) => () => void,
): Promise<RunResult> {
  const { keyPath, knownHostsPath, workDir } = opts;
  const planFile = path.join(workDir, `baseline-plan-${plan.release}.json`);
  fs.writeFileSync(planFile, JSON.stringify(plan));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      baselineScript,
      '--plan',
      planFile,
      '--key',
      keyPath,
      '--known-hosts',
      knownHostsPath,
      ...(opts.preflightWidth > 0 ? ['--preflight-width', String(opts.preflightWidth)] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const unregister = register(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  unregister();
  if (code !== 0) return { outcome: 'failed', reason: err.trim().slice(-2000) || `exit ${code}`, wallMs: 0, steps: {}, peakRssMb: 0 };
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as BaselineResult;
  return { outcome: r.outcome, wallMs: r.wallMs, steps: r.steps, peakRssMb: r.peakRssMb, cpuMs: r.cpuMs, smokeUnreached: r.smokeUnreached };
}

/**
 * Activities alone, by history event times (start to completion), to tell their own time from the
 * step's: each smokeTest (since patch one-activity-per-verify it first waits for UP in standby), keyed smoke:<cluster> in plan
 * order, each deployHosts (install and health per host, without the step's bookkeeping) keyed
 * install:<cluster>, and preflight's readFleet (inspectHosts before it: the hosts' SSH and HTTP reads), keyed inspect.
 */
function activityTimes(events: HistoryEvent[], plan: Plan): Record<string, number> {
  const ms = (e: HistoryEvent | undefined) =>
    e?.eventTime?.seconds == null ? NaN : Number(e.eventTime.seconds.toString()) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6);
  const scheduled = (type: string) =>
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).map((e) => String(e.eventId));
  const spans = activitySpans(events, ms);
  const took = (id: string | undefined) => {
    const span = id === undefined ? undefined : spans.get(id);
    return span ? span[1] - span[0] : undefined;
  };
  const out: Record<string, number> = {};
  // Runs since patch one-fleet-read read the pools and the hosts in one activity, readFleet.
  const inspect = took(scheduled('readFleet')[0] ?? scheduled('inspectHosts')[0]);
  if (inspect !== undefined) out.inspect = inspect;
  for (const [type, key] of [
    ['deployHosts', 'install'],
    ['smokeTest', 'smoke'],
  ]) {
    scheduled(type as string).forEach((id, i) => {
      const t = took(id);
      if (t !== undefined) out[`${key}:${plan.order[i] ?? `#${i + 1}`}`] = t;
    });
  }
  out.orchestration = orchestrationMs(events, [...spans.values()], ms);
  return out;
}

/**
 * The run's time in which no activity was running: workflow tasks, dispatch and the round trips
 * between the steps, which is what Temporal costs over a script (first to last event, minus the
 * union of every activity's start-to-completion).
 */
function orchestrationMs(events: HistoryEvent[], spans: [number, number][], ms: (e: HistoryEvent | undefined) => number): number {
  let busy = 0;
  let reach = -Infinity;
  for (const [from, to] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (to <= reach) continue;
    busy += to - Math.max(from, reach);
    reach = to;
  }
  return ms(events[events.length - 1]) - ms(events[0]) - busy;
}

/** Each activity that started and completed, by its scheduled event id: [started, completed] in ms. */
function activitySpans(events: HistoryEvent[], ms: (e: HistoryEvent | undefined) => number): Map<string, [number, number]> {
  const started = new Map<string, HistoryEvent>();
  const spans = new Map<string, [number, number]>();
  for (const e of events) {
    const s = e.activityTaskStartedEventAttributes?.scheduledEventId;
    if (s != null) started.set(String(s), e);
    const c = e.activityTaskCompletedEventAttributes?.scheduledEventId;
    const from = c == null ? undefined : started.get(String(c));
    if (c != null && from) spans.set(String(c), [ms(from), ms(e)]);
  }
  return spans;
}

interface HistoryEvent {
  eventId?: { toString(): string } | number | null;
  eventTime?: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: { toString(): string } | number | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: { toString(): string } | number | null } | null;
}
