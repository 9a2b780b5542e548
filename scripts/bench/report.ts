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
  /** Servers HAProxy's checks took DOWN during the run (restarts that outlasted `fall` checks). */
  checkDowns?: number;
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
  workerReadyMs?: number;
  phases: Phase[];
  ratio?: { wall: number; steps: Record<string, number> };
  targets?: Record<string, boolean>;
  error?: string;
}

const TARGET_RATIO = 1.3;
const TARGET_PREFLIGHT_MS = 1000;

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : Number.NaN);

export function addComparison(r: CaseReport): CaseReport {
  const bg = r.phases.find((p) => p.runner === 'bluegreen');
  const base = r.phases.find((p) => p.runner === 'baseline');
  const clean = (p?: Phase) =>
    p !== undefined && p.run.outcome === 'succeeded' && p.fleetProblems.length === 0 && p.failedRequests === 0 && p.lostWrites === 0;
  const targets: Record<string, boolean> = {};
  if (bg) {
    targets.bluegreenSucceeded = bg.run.outcome === 'succeeded' && bg.fleetProblems.length === 0;
    targets.zeroFailedRequests = bg.failedRequests === 0;
    targets.zeroLostWrites = bg.lostWrites === 0;
    if (r.hostsPerCluster === 25 && r.slowLoginMs === 0)
      targets.preflightUnder1s = (bg.run.steps.preflight ?? Infinity) < TARGET_PREFLIGHT_MS;
  }
  if (bg && base && clean(base) && bg.run.wallMs > 0) {
    r.ratio = { wall: ratio(bg.run.wallMs, base.run.wallMs), steps: {} };
    for (const [k, ms] of Object.entries(bg.run.steps)) {
      const b = base.run.steps[k];
      if (b !== undefined) r.ratio.steps[k] = ratio(ms, b);
    }
    targets.ratioAtMost1_3 = bg.run.wallMs / base.run.wallMs <= TARGET_RATIO;
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
  const head = [
    '',
    'outcome',
    'wall s',
    ...keys.map((k) => k.replace(/:/, '\n')),
    'failed\nreqs',
    'lost\nwrites',
    'reqs',
    'checks\nDOWN',
    'peak\nRSS MB',
    'history\nevents',
  ];
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
      p.run.peakRssMb.toFixed(1),
      p.run.historyLength === undefined ? '' : String(p.run.historyLength),
    ]);
  }
  if (r.ratio)
    t.push(['ratio bg/base', '', r.ratio.wall.toFixed(3), ...keys.map((k) => r.ratio?.steps[k]?.toFixed(3) ?? ''), '', '', '', '', '', '']);
  const title =
    `${r.case}: ${r.hosts} hosts, parallelism ${r.parallelism}, ${r.rps} req/s, order ${r.order.join(' then ')}` +
    (r.loginMs !== undefined ? `, one SSH login ${r.loginMs} ms` : '') +
    (r.workerReadyMs !== undefined ? `, worker ready in ${r.workerReadyMs} ms` : '');
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
      'bg wall s',
      'base wall s',
      'ratio',
      'bg preflight s',
      'base preflight s',
      'failed bg/base',
      'lost bg/base',
      'worker RSS MB',
      'history',
      'worker ready ms',
    ],
    style: { head: [], border: [] },
  });
  for (const r of reports) {
    const bg = r.phases.find((p) => p.runner === 'bluegreen');
    const base = r.phases.find((p) => p.runner === 'baseline');
    t.push([
      r.error ? `${r.case} (ERROR)` : r.case,
      s(bg?.run.wallMs),
      s(base?.run.wallMs),
      r.ratio?.wall.toFixed(3) ?? '',
      s(bg?.run.steps.preflight),
      s(base?.run.steps.preflight),
      `${bg?.failedRequests ?? '-'}/${base?.failedRequests ?? '-'}`,
      `${bg?.lostWrites ?? '-'}/${base?.lostWrites ?? '-'}`,
      bg ? bg.run.peakRssMb.toFixed(1) : '',
      bg?.run.historyLength === undefined ? '' : String(bg.run.historyLength),
      r.workerReadyMs === undefined ? '' : String(r.workerReadyMs),
    ]);
  }
  return t.toString();
}
