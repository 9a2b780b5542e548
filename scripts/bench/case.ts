// One bench case: one lab, and on it each runner in turn under its own load of the same rate.
// The first phase deploys v1→v2 (with the migration), the second v2→v3 (v3 needs that migration,
// which the first phase did, so its own migrate step is a no-op for both runners alike).
import type { Client } from '@temporalio/client';
import { startLoad } from '../../src/lab';
import { upLab, type BenchLab } from './lab';
import { addComparison, type CaseReport, type Phase, type Runner } from './report';
import { runBaseline, runBluegreen, startBenchWorker, type BenchWorker, type RunResult } from './runners';

export interface CaseOptions {
  hostsPerCluster: number;
  parallelism: number;
  slowLoginMs: number;
  rps: number;
  basePort: number;
  order: Runner[];
  baselinePreflightWidth: number;
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
// Traffic flows for a moment before the run, so the first drain has sessions to wait for.
const WARMUP_MS = 1000;

export async function benchCase(o: CaseOptions): Promise<CaseReport> {
  const name = `2x${o.hostsPerCluster}${o.slowLoginMs ? ` slow-login ${o.slowLoginMs}ms` : ''}`;
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
  try {
    let current = 'v1';
    for (const [i, runner] of phaseOrder(o.order, o.rounds).entries()) {
      const to = targetOf(i);
      const plan = await bl.plan(current, to, o.parallelism);
      let worker: BenchWorker | undefined;
      let removeWorker = () => {};
      if (runner === 'bluegreen') {
        if (!o.temporal) throw new Error('bluegreen needs a Temporal server');
        // Started right before its phase and stopped right after, so no idle worker runs beside the baseline.
        worker = await startBenchWorker(
          o.temporal.address,
          `bench-${o.hostsPerCluster}-${o.slowLoginMs}-${Date.now()}`,
          bl.lab.keyPath,
          bl.lab.knownHostsPath,
        );
        const w = worker;
        removeWorker = o.onInterrupt(() => w.process.kill('SIGKILL'));
        (report.workerReadyMs ??= []).push(worker.readyMs);
      }
      o.log(`${name}: ${runner} ${current}→${to} under ${o.rps} req/s`);
      const downsBefore = await bl.checkDowns();
      const load = startLoad({ url: bl.lab.liveUrl, rps: o.rps, dbPath: bl.lab.dbPath });
      let run: RunResult;
      try {
        await new Promise((r) => setTimeout(r, WARMUP_MS));
        run =
          runner === 'bluegreen'
            ? await runBluegreen(o.temporal!.client, worker!, plan, worker!.taskQueue, o.historyDir)
            : await runBaseline(
                plan,
                {
                  keyPath: bl.lab.keyPath,
                  knownHostsPath: bl.lab.knownHostsPath,
                  workDir: bl.lab.dir,
                  preflightWidth: o.baselinePreflightWidth,
                },
                (kill) => o.onInterrupt(kill),
              );
      } finally {
        const loadReport = await load.stop();
        await worker?.process.kill('SIGTERM');
        removeWorker();
        report.phases.push({
          runner,
          from: current,
          to,
          run: { outcome: 'error', wallMs: 0, steps: {}, peakRssMb: 0 },
          requests: loadReport.requests,
          failedRequests: loadReport.failures.count,
          lostWrites: loadReport.lostWrites.length,
          failureSamples: loadReport.failures.list.slice(0, 3).map((f) => `${f.at} ${f.method} ${f.path}: ${f.reason}`),
          fleetProblems: [],
        });
      }
      const phase = report.phases[report.phases.length - 1] as Phase;
      phase.run = run;
      phase.checkDowns = (await bl.checkDowns()) - downsBefore;
      phase.fleetProblems = await bl.check(to);
      o.log(
        `${name}: ${runner} ${run.outcome} in ${run.wallMs} ms, ${phase.failedRequests} failed requests, ${phase.lostWrites} lost writes`,
      );
      // A run that did not finish leaves the fleet somewhere in between: the next runner could not start from a known release.
      if (run.outcome !== 'succeeded' || phase.fleetProblems.length > 0) break;
      current = to;
    }
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
  } finally {
    o.log(`${name}: lab down`);
    await bl.down();
    removeLab();
  }
  return addComparison(report);
}
