// The bake's arithmetic, pure and deterministic (it runs inside the workflow): deltas of the LB's
// cumulative per-server counters against the start of the window, and the verdict. Counters that go
// down mean the LB restarted or reloaded (HAProxy starts again from 0): what was counted before the
// reset is carried, so a reset never yields a negative or shrunken figure.
import type { ServerCounters } from '../ports/lb';
import type { BakeConfig } from '../plan/schema';
import type { BakeRecord } from './state';

/** The counters that only grow (between resets). */
export interface Cumulative {
  responses: number;
  r5xx: number;
  errors: number;
}

/** One server's window: where it started, what was carried over resets, and the last reading. */
export interface ServerWindow {
  server: string;
  base: Cumulative;
  carried: Cumulative;
  last: Cumulative;
  resets: number;
}

/** One server's figures since the start of the window. */
export interface ServerFigures extends Cumulative {
  server: string;
  /** r5xx / responses; 0 with no response. */
  ratio5xx: number;
  rtimeMs: number;
  status: string;
  checkStatus: string;
  /** Counter resets (LB reloads) seen during the window. */
  resets: number;
}

const ZERO: Cumulative = { responses: 0, r5xx: 0, errors: 0 };
const KEYS = ['responses', 'r5xx', 'errors'] as const;

const cumulative = (c: ServerCounters | Cumulative): Cumulative => ({ responses: c.responses, r5xx: c.r5xx, errors: c.errors });

export function openWindow(start: ServerCounters[]): ServerWindow[] {
  return start.map((c) => ({ server: c.server, base: cumulative(c), carried: { ...ZERO }, last: cumulative(c), resets: 0 }));
}

/**
 * Takes one reading into the window (mutates it) and returns each server's figures since the
 * window opened. A server missing from the reading keeps its last figures.
 */
export function advance(windows: ServerWindow[], reading: ServerCounters[]): ServerFigures[] {
  const byName = new Map(reading.map((r) => [r.server, r]));
  return windows.map((w) => {
    const r = byName.get(w.server);
    if (r) {
      const now = cumulative(r);
      if (KEYS.some((k) => now[k] < w.last[k])) {
        // The LB's counters restarted from 0: keep what the window had counted up to the last reading.
        for (const k of KEYS) w.carried[k] += w.last[k] - w.base[k];
        w.base = { ...ZERO };
        w.resets++;
      }
      w.last = now;
    }
    const delta = Object.fromEntries(KEYS.map((k) => [k, Math.max(0, w.carried[k] + w.last[k] - w.base[k])])) as unknown as Cumulative;
    return {
      server: w.server,
      ...delta,
      ratio5xx: delta.responses > 0 ? delta.r5xx / delta.responses : 0,
      rtimeMs: r?.rtimeMs ?? 0,
      status: r?.status ?? 'unknown',
      checkStatus: r?.checkStatus ?? '',
      resets: w.resets,
    };
  });
}

/** A server that serves no traffic in the live pool: DOWN (also "DOWN 1/2", rising), MAINT, NOLB. */
export function isDown(status: string): boolean {
  return /^(DOWN|MAINT|NOLB)/.test(status);
}

export function percent(ratio: number): string {
  const p = ratio * 100;
  const text = p >= 1 || p === 0 ? p.toFixed(1) : p.toPrecision(2);
  return `${text.replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1')}%`;
}

export interface Verdict {
  /** Why the bake failed, with the numbers; undefined while nothing breaches. */
  breach?: string;
  /** What was not judged yet, e.g. too few responses for the ratio. */
  note?: string;
}

/**
 * Judges the figures as soon as they suffice: a server down at once; the 5xx ratio and the response
 * time once a server (or the cluster as a whole) has `minRequests` responses in the window.
 */
export function judge(cluster: string, figures: ServerFigures[], t: BakeConfig['thresholds'], elapsedSeconds: number): Verdict {
  const secs = `${Math.max(0, Math.round(elapsedSeconds))} s`;
  const limit = percent(t.max5xxRatio);
  if (t.anyServerDown) {
    const down = figures.find((f) => isDown(f.status));
    if (down)
      return {
        breach: `${down.server}: ${down.status} in the live pool${down.checkStatus ? ` (last check ${down.checkStatus})` : ''} after ${secs} of the bake`,
      };
  }
  for (const f of figures) {
    if (f.responses < t.minRequests) continue;
    if (f.ratio5xx > t.max5xxRatio)
      return { breach: `${f.server}: 5xx ${percent(f.ratio5xx)} of ${f.responses} responses in ${secs}, limit ${limit}` };
    if (t.maxResponseMs !== undefined && f.rtimeMs > t.maxResponseMs)
      return {
        breach: `${f.server}: average response time ${f.rtimeMs} ms (its last 1024 requests) after ${f.responses} responses in ${secs}, limit ${t.maxResponseMs} ms`,
      };
  }
  // Many servers with little traffic each: the cluster as a whole still has enough to judge.
  const total = figures.reduce((a, f) => ({ responses: a.responses + f.responses, r5xx: a.r5xx + f.r5xx }), { responses: 0, r5xx: 0 });
  if (total.responses >= t.minRequests && total.r5xx / total.responses > t.max5xxRatio)
    return {
      breach: `cluster ${cluster}: 5xx ${percent(total.r5xx / total.responses)} of ${total.responses} responses in ${secs}, limit ${limit}`,
    };
  if (total.responses < t.minRequests)
    return {
      note: `${total.responses} responses, fewer than minRequests (${t.minRequests}): the 5xx ratio${t.maxResponseMs ? ' and response time are' : ' is'} not judged`,
    };
  return {};
}

/** The figures that matter most: the server with the highest 5xx ratio (then the most responses). */
export function worstServer(servers: ServerFigures[]): ServerFigures | undefined {
  return [...servers].sort((a, b) => b.ratio5xx - a.ratio5xx || b.responses - a.responses)[0];
}

/** One line for people: window, samples, the worst server's figures and the limit. */
export function describeBake(b: BakeRecord, now: number): string {
  const from = Date.parse(b.watchFrom ?? b.startedAt);
  const elapsed = Math.min(b.seconds, Math.max(0, Math.round((now - from) / 1000)));
  const w = worstServer(b.servers);
  const total = b.servers.reduce((n, s) => n + s.responses, 0);
  const figures = w
    ? `${total} responses; worst ${w.server}: 5xx ${percent(w.ratio5xx)} of ${w.responses}, rtime ${w.rtimeMs} ms, ${w.status}`
    : 'no reading yet';
  const limit = `limit 5xx ${percent(b.thresholds.max5xxRatio)} once ${b.thresholds.minRequests} responses${b.thresholds.maxResponseMs ? `, rtime ${b.thresholds.maxResponseMs} ms` : ''}`;
  const head = b.outcome === 'running' ? `${elapsed} of ${b.seconds} s` : b.outcome;
  return `${head}, ${b.samples} sample${b.samples === 1 ? '' : 's'}; ${figures} (${limit})${b.reason && b.outcome !== 'passed' ? `: ${b.reason}` : ''}`;
}

/** For a run's final reason: which clusters were baked, and any bake that passed without judging. */
export function bakeSummary(bakes: BakeRecord[] | undefined): string {
  if (!bakes?.length) return '';
  const unjudged = bakes.filter((b) => b.outcome === 'passed' && b.note);
  return (
    `; baked ${bakes.map((b) => b.cluster).join(', ')} for ${bakes[0]!.seconds} s each` +
    (unjudged.length ? ` (not judged: ${unjudged.map((b) => `${b.cluster} had ${b.note}`).join('; ')})` : '')
  );
}
