// One bench case: one lab, and on it each runner in turn under its own load of the same rate.
// The first phase deploys v1→v2 (with the migration), the second v2→v3 (v3 needs that migration,
// which the first phase did, so its own migrate step is a no-op for both runners alike).
import type { Client } from '@temporalio/client';
import { CHECK_INTER_MS, startLoad } from '../../src/lab';
import { upLab, type BenchLab } from './lab';
import { addComparison, type CaseReport, type Phase, type Runner } from './report';
import { cpuMs } from './proc';
import { runBaseline, runBluegreen, startBenchWorker, type BenchWorker } from './runners';

export interface CaseOptions {
  hostsPerCluster: number;
  parallelism: number;
  slowLoginMs: number;
  rps: number;
  basePort: number;
  order: Runner[];
  baselinePreflightWidth: number;
  /** A fresh worker for every bluegreen run, instead of one per case. */
  workerPerRun: boolean;
  /** Times each runner deploys on the lab (the report compares medians). */
  rounds: number;
  /** Where bluegreen runs' histories are written (--history-dir), if anywhere. */
  historyDir?: string;
  /** Only needed when bluegreen runs. */
  temporal?: { address: string; client: Client };
  log: (msg: string) => void;
  /** Registers a cleanup that must run even if the bench is interrupted; returns its remover. */
  onInterrupt: (fn: () => Promise<void> | void) => () => void;
}

/**
 * The first phase goes v1→v2, then phases alternate v2→v3 and v3→v2: v3 needs the migration the
 * first phase ran (every later migrate step is a no-op for both runners alike), and v2 runs on
 * either schema.
 */
const targetOf = (phase: number) => (phase % 2 === 0 ? 'v2' : 'v3');

/** Round r runs the runners in the given order when r is even, reversed when odd (order effects cancel). */
export function phaseOrder(order: Runner[], rounds: number): Runner[] {
  return Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? order : [...order].reverse())).flat();
}
/**
 * Rounds when --rounds is not given. A small fleet's run takes 1.3-2.5 s, of which HAProxy's check
 * timing alone can add up to 0.5 s twice (step 4 waits for a check, anywhere in `inter`, once per
 * cluster): a median of 3 there is mostly luck, and 12 rounds more cost about two minutes. From
 * 10 hosts per cluster a run's own length swamps it, and each round costs 20 s or more.
 */
export function defaultRounds(hostsPerCluster: number): number {
  return hostsPerCluster < 10 ? 15 : 3;
}

// Traffic flows for a moment before the run, so the first drain has sessions to wait for.
const WARMUP_MS = 1000;

const caseName = (o: CaseOptions) => `2x${o.hostsPerCluster}${o.slowLoginMs ? ` slow-login ${o.slowLoginMs}ms` : ''}`;

export async function benchCase(o: CaseOptions): Promise<CaseReport> {
  const name = caseName(o);
  const report: CaseReport = {
    case: name,
    hostsPerCluster: o.hostsPerCluster,
    hosts: o.hostsPerCluster * 2,
    parallelism: o.parallelism,
    slowLoginMs: o.slowLoginMs,
    rps: o.rps,
    order: o.order,
    rounds: o.rounds,
    phases: [],
  };
  o.log(`${name}: lab up`);
  let bl: BenchLab;
  try {
    bl = await upLab(o.hostsPerCluster, o.basePort, o.slowLoginMs);
  } catch (err) {
    report.error = `lab up: ${err instanceof Error ? err.message : String(err)}`;
    return report;
  }
  const removeLab = o.onInterrupt(bl.down);
  report.loginMs = bl.loginMs;
  o.log(`${name}: lab warmed (one login and one health request per host) in ${bl.warmMs} ms`);
  let shared: BenchWorker | undefined;
  let removeWorker = () => {};
  const stopWorker = async () => {
    await shared?.process.kill('SIGTERM');
    removeWorker();
    shared = undefined;
  };
  try {
    let current = 'v1';
    for (const [i, runner] of phaseOrder(o.order, o.rounds).entries()) {
      const to = targetOf(i);
      // A worker is a service: one per case, started before its first run and warm for the next
      // ones, idle beside the baseline's runs (--worker-per-run: a fresh one for every run).
      if (runner === 'bluegreen' && !shared) {
        if (!o.temporal) throw new Error('bluegreen needs a Temporal server');
        const w = await startBenchWorker(
          o.temporal.address,
          `bench-${o.hostsPerCluster}-${o.slowLoginMs}-${Date.now()}`,
          bl.lab.keyPath,
          bl.lab.knownHostsPath,
        );
        shared = w;
        removeWorker = o.onInterrupt(() => w.process.kill('SIGKILL'));
        (report.workerReadyMs ??= []).push(w.readyMs);
      }
      const idleBefore = runner === 'baseline' && shared ? cpuMs(shared.process.pid) : undefined;
      const phase = await runPhase(o, bl, report.phases, runner, current, to, runner === 'bluegreen' ? shared : undefined);
      if (idleBefore !== undefined && shared) phase.idleWorkerCpuMs = cpuMs(shared.process.pid) - idleBefore;
      if (o.workerPerRun) await stopWorker();
      o.log(
        `${name}: ${runner} ${phase.run.outcome} in ${phase.run.wallMs} ms, ${phase.failedRequests} failed requests, ${phase.lostWrites} lost writes` +
          (phase.idleWorkerCpuMs === undefined ? '' : ` (the idle worker meanwhile: ${phase.idleWorkerCpuMs} ms CPU)`),
      );
      // A run that did not finish leaves the fleet somewhere in between: the next runner could not start from a known release.
      if (phase.run.outcome !== 'succeeded' || phase.fleetProblems.length > 0) break;
      current = to;
    }
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
  } finally {
    await stopWorker();
    o.log(`${name}: lab down`);
    await bl.down();
    removeLab();
  }
  return addComparison(report);
}

/**
 * One runner's deployment on the lab under load. Every run starts with no SSH connection open to
 * the hosts (a warm worker's pool would still hold the last run's for its idle time; a deployment
 * hours after the last would find none), so both runners pay for their logins alike.
 */
async function runPhase(
  o: CaseOptions,
  bl: BenchLab,
  phases: Phase[],
  runner: Runner,
  from: string,
  to: string,
  worker?: BenchWorker,
): Promise<Phase> {
  const plan = await bl.plan(from, to, o.parallelism);
  const cut = await bl.dropSshConnections();
  o.log(`${caseName(o)}: ${runner} ${from}→${to} under ${o.rps} req/s (${cut} SSH connections closed before it)`);
  const downsBefore = await bl.checkDowns();
  const load = startLoad({ url: bl.lab.liveUrl, rps: o.rps, dbPath: bl.lab.dbPath });
  const phase: Phase = {
    runner,
    from,
    to,
    run: { outcome: 'error', wallMs: 0, steps: {}, peakRssMb: 0 },
    requests: 0,
    failedRequests: 0,
    lostWrites: 0,
    failureSamples: [],
    fleetProblems: [],
  };
  phases.push(phase); // before the run: one that throws is still reported, as an error
  try {
    // Plus a random part of HAProxy's check interval: each run would otherwise start a fixed time
    // after the last one's final wait for a check, and so meet every check of its own at the same
    // point of the interval, run after run (one runner always waiting 0.45 s for step 4, the other
    // 0.25 s). With the pause each run meets them anywhere, as a deployment started by hand does.
    await new Promise((r) => setTimeout(r, WARMUP_MS + Math.random() * CHECK_INTER_MS));
    if (runner === 'bluegreen') {
      if (!o.temporal || !worker) throw new Error('bluegreen needs a Temporal server and a worker');
      // One workflow id per run: the runs share the worker, and each keeps its own history file.
      phase.run = await runBluegreen(o.temporal.client, worker, plan, `${worker.taskQueue}-${phases.length}`, o.historyDir);
    } else {
      phase.run = await runBaseline(
        plan,
        { keyPath: bl.lab.keyPath, knownHostsPath: bl.lab.knownHostsPath, workDir: bl.lab.dir, preflightWidth: o.baselinePreflightWidth },
        (kill) => o.onInterrupt(kill),
      );
    }
  } finally {
    const loadReport = await load.stop();
    phase.requests = loadReport.requests;
    phase.failedRequests = loadReport.failures.count;
    phase.lostWrites = loadReport.lostWrites.length;
    phase.failureSamples = loadReport.failures.list.slice(0, 3).map((f) => `${f.at} ${f.method} ${f.path}: ${f.reason}`);
  }
  phase.checkDowns = (await bl.checkDowns()) - downsBefore;
  phase.fleetProblems = await bl.check(to);
  return phase;
}
