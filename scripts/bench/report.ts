// What one bench case prints: a table (bluegreen, baseline, ratio) and one JSON line. Times are
// printed to the millisecond and ratios to three decimals, so no figure is rounded onto a target;
// pass/fail is judged on the exact values.
import Table from 'cli-table3';
import type { RunResult } from './runners';

export type Runner = 'bluegreen' | 'baseline';

export interface Phase {
  runner: Runner;
  from: string;
  to: string;
  run: RunResult;
  requests: number;
  failedRequests: number;
  lostWrites: number;
  /** The first few failures of the load, to say what went wrong without the whole list. */
  failureSamples: string[];
  /** Problems seen from outside the runner after it finished (empty: every host on `to`, all live). */
  fleetProblems: string[];
  /**
   * HAProxy's `chkdown` over the run: transitions to DOWN, entering maint included (each runner
   * makes 3 per host: out of live, the hold in step 2, out of standby). Any more were DOWNs by check.
   */
  checkDowns?: number;
  /** Baseline runs beside a warm bluegreen worker: the worker's CPU meanwhile (it only polls). */
  idleWorkerCpuMs?: number;
}

export interface CaseReport {
  case: string;
  hostsPerCluster: number;
  hosts: number;
  parallelism: number;
  slowLoginMs: number;
  loginMs?: number;
  rps: number;
  order: Runner[];
  rounds: number;
  /** Spawn to ready, one per bluegreen phase (each phase starts its own worker). */
  workerReadyMs?: number[];
  phases: Phase[];
  /** Median bluegreen over median baseline: the whole run and each step. */
  ratio?: { wall: number; steps: Record<string, number>; perRound: number[] };
  /** Per runner, the median of its phases: the whole run and each step. */
  medians?: Partial<Record<Runner, { wallMs: number; steps: Record<string, number> }>>;
  targets?: Record<string, boolean>;
  error?: string;
}

const TARGET_RATIO = 1.3;
const TARGET_PREFLIGHT_MS = 1000;

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : Number.NaN);

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const v = [...values].sort((x, y) => x - y);
  const m = Math.floor(v.length / 2);
  return v.length === 0 ? Number.NaN : v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function mediansOf(phases: Phase[]): { wallMs: number; steps: Record<string, number> } {
  const keys = [...new Set(phases.flatMap((p) => Object.keys(p.run.steps)))];
  const steps: Record<string, number> = {};
  for (const k of keys) {
    const v = phases.map((p) => p.run.steps[k]).filter((x): x is number => x !== undefined);
    if (v.length) steps[k] = Math.round(median(v));
  }
  return { wallMs: Math.round(median(phases.map((p) => p.run.wallMs))), steps };
}

export function addComparison(r: CaseReport): CaseReport {
  const of = (runner: Runner) => r.phases.filter((p) => p.runner === runner);
  const [bg, base] = [of('bluegreen'), of('baseline')];
  const clean = (p: Phase) => p.run.outcome === 'succeeded' && p.fleetProblems.length === 0 && p.failedRequests === 0 && p.lostWrites === 0;
  const targets: Record<string, boolean> = {};
  r.medians = {};
  if (bg.length) {
    const m = (r.medians.bluegreen = mediansOf(bg));
    targets.bluegreenSucceeded = bg.every((p) => p.run.outcome === 'succeeded' && p.fleetProblems.length === 0);
    targets.zeroFailedRequests = bg.every((p) => p.failedRequests === 0);
    targets.zeroLostWrites = bg.every((p) => p.lostWrites === 0);
    if (r.hostsPerCluster === 25 && r.slowLoginMs === 0) targets.preflightUnder1s = (m.steps.preflight ?? Infinity) < TARGET_PREFLIGHT_MS;
  }
  if (base.length) r.medians.baseline = mediansOf(base);
  const bm = r.medians.bluegreen;
  const basem = r.medians.baseline;
  if (bm && basem && base.every(clean) && bg.every((p) => p.run.outcome === 'succeeded') && bm.wallMs > 0) {
    const steps: Record<string, number> = {};
    for (const [k, ms] of Object.entries(bm.steps)) {
      const b = basem.steps[k];
      if (b !== undefined) steps[k] = ratio(ms, b);
    }
    const rounds = Math.min(bg.length, base.length);
    const perRound = Array.from({ length: rounds }, (_, i) => ratio(bg[i]!.run.wallMs, base[i]!.run.wallMs));
    r.ratio = { wall: ratio(bm.wallMs, basem.wallMs), steps, perRound };
    targets.ratioAtMost1_3 = bm.wallMs / basem.wallMs <= TARGET_RATIO;
  }
  r.targets = targets;
  return r;
}

const s = (ms: number | undefined) => (ms === undefined ? '' : (ms / 1000).toFixed(3));

function stepKeys(r: CaseReport): string[] {
  const keys: string[] = [];
  for (const p of r.phases) for (const k of Object.keys(p.run.steps)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

export function caseTable(r: CaseReport): string {
  const keys = stepKeys(r);
  // Per-run columns after the steps; the median and ratio rows leave them empty.
  const perRun = ['failed\nreqs', 'lost\nwrites', 'reqs', 'HAProxy\nchkdown', 'CPU s\n(runner)', 'peak\nRSS MB', 'history\nevents'];
  const blank = perRun.map(() => '');
  const head = ['', 'outcome', 'wall s', ...keys.map((k) => k.replace(/:/, '\n')), ...perRun];
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const p of r.phases) {
    t.push([
      `${p.runner}\n${p.from}→${p.to}`,
      p.fleetProblems.length ? `${p.run.outcome}\nBUT ${p.fleetProblems.length} fleet problems` : p.run.outcome,
      s(p.run.wallMs),
      ...keys.map((k) => s(p.run.steps[k])),
      String(p.failedRequests),
      String(p.lostWrites),
      String(p.requests),
      p.checkDowns === undefined ? '' : String(p.checkDowns),
      s(p.run.cpuMs),
      p.run.peakRssMb.toFixed(1),
      p.run.historyLength === undefined ? '' : String(p.run.historyLength),
    ]);
  }
  for (const runner of ['bluegreen', 'baseline'] as const) {
    const m = r.medians?.[runner];
    if (m && r.phases.filter((p) => p.runner === runner).length > 1)
      t.push([`${runner}\nmedian`, '', s(m.wallMs), ...keys.map((k) => s(m.steps[k])), ...blank]);
  }
  if (r.ratio)
    t.push(['ratio bg/base\n(medians)', '', r.ratio.wall.toFixed(3), ...keys.map((k) => r.ratio?.steps[k]?.toFixed(3) ?? ''), ...blank]);
  const title =
    `${r.case}: ${r.hosts} hosts, parallelism ${r.parallelism}, ${r.rps} req/s, order ${r.order.join(' then ')}` +
    (r.loginMs !== undefined ? `, one SSH login ${r.loginMs} ms` : '') +
    `, ${r.rounds} round${r.rounds === 1 ? '' : 's'}` +
    (r.workerReadyMs?.length ? `, worker ready in ${r.workerReadyMs.join(', ')} ms` : '') +
    (r.ratio && r.ratio.perRound.length > 1 ? `, ratio per round ${r.ratio.perRound.map((x) => x.toFixed(3)).join(', ')}` : '');
  const targets =
    r.targets && Object.keys(r.targets).length
      ? `\ntargets: ${Object.entries(r.targets)
          .map(([k, ok]) => `${k} ${ok ? 'MET' : 'MISSED'}`)
          .join(', ')}`
      : '';
  const reasons = r.phases
    .flatMap((p) => [
      ...(p.run.reason ? [`${p.runner}: ${p.run.reason}`] : []),
      ...(p.run.smokeUnreached?.length ? [`${p.runner}: smoke requests never reached ${p.run.smokeUnreached.join(', ')}`] : []),
      ...p.fleetProblems.slice(0, 5).map((x) => `${p.runner} fleet: ${x}`),
      ...p.failureSamples.map((x) => `${p.runner} load: ${x}`),
    ])
    .map((x) => `\n  ${x}`)
    .join('');
  return `${title}\n${t.toString()}${targets}${r.error ? `\nERROR: ${r.error}` : ''}${reasons}`;
}

/** One row per case, for the end of the run. */
export function summaryTable(reports: CaseReport[]): string {
  const t = new Table({
    head: [
      'case',
      'bg wall s\n(median)',
      'base wall s\n(median)',
      'ratio\n(medians)',
      'ratio per round',
      'bg preflight s',
      'base preflight s',
      'failed bg/base',
      'lost bg/base',
      'worker peak\nRSS MB',
      'history',
      'worker ready\nms (median)',
    ],
    style: { head: [], border: [] },
  });
  for (const r of reports) {
    const bg = r.phases.filter((p) => p.runner === 'bluegreen');
    const base = r.phases.filter((p) => p.runner === 'baseline');
    const sum = (ps: Phase[], f: (p: Phase) => number) => (ps.length ? String(ps.reduce((n, p) => n + f(p), 0)) : '-');
    const history = [...new Set(bg.map((p) => p.run.historyLength).filter((h) => h !== undefined))];
    t.push([
      r.error ? `${r.case} (ERROR)` : r.case,
      s(r.medians?.bluegreen?.wallMs),
      s(r.medians?.baseline?.wallMs),
      r.ratio?.wall.toFixed(3) ?? '',
      r.ratio?.perRound.map((x) => x.toFixed(3)).join(' ') ?? '',
      s(r.medians?.bluegreen?.steps.preflight),
      s(r.medians?.baseline?.steps.preflight),
      `${sum(bg, (p) => p.failedRequests)}/${sum(base, (p) => p.failedRequests)}`,
      `${sum(bg, (p) => p.lostWrites)}/${sum(base, (p) => p.lostWrites)}`,
      bg.length ? Math.max(...bg.map((p) => p.run.peakRssMb)).toFixed(1) : '',
      history.join(', '),
      r.workerReadyMs?.length ? String(Math.round(median(r.workerReadyMs))) : '',
    ]);
  }
  return t.toString();
}
