// Step 3's smoke tests for one cluster, at any size. Two phases:
//  1. through the standby pool (the path users will take): 2 x hosts requests per test, a few at
//     once on reused connections; each passing response that names its server (the responder
//     header, X-Host or a JSON `host`) proves that test on that host;
//  2. directly to each host (its healthUrl's origin), for the tests no pool response proved on it
//     (`auto`), or for every test (`direct`). `pool` refuses instead: every host must be named.
// So a passing run has shown every test passing on every host, not only on the ones round robin
// happened to reach. Progress is data (SmokeProgress) so a retried attempt resumes from it.
import { describeValue } from './shell';
import { eachBounded } from './fleet';
import type { CheckResult, HttpPort, SmokeSession } from '../ports/http';
import { SMOKE_CONCURRENCY, smokePoolRounds } from '../plan/smoke-budget';
import type { SmokeCoverage, SmokeInput, SmokeProgress, SmokeReport } from './types';

export class SmokeFailure extends Error {
  override readonly name = 'SmokeTestFailed';
}

/**
 * A request through the pool failed without naming a server while the LB's check had not yet
 * confirmed every host (SmokeControl.untilRoutable): the LB may not route to them yet. The caller
 * waits for the check and runs the tests again, which diagnose such a failure as usual.
 */
export class PoolNotConfirmed extends Error {
  override readonly name = 'PoolNotConfirmed';
}

export interface SmokeControl {
  /** Aborted on cancellation or when the budget runs out: requests in flight stop at once. */
  signal: AbortSignal;
  /** Resumed from the previous attempt's heartbeat, and updated in place as requests pass. */
  progress: SmokeProgress;
  /**
   * Set when the requests through the pool start before the LB's own check confirmed the hosts
   * (each ready and taking requests, lb.ts isRoutable). Called with the hosts that no passing pool
   * response of this attempt named, before they are tested directly: it waits for the check, or
   * until `enough` aborts (more pool requests named them all). A failure through the pool that
   * names no server then throws PoolNotConfirmed.
   */
  untilRoutable?: (hosts: string[], enough: AbortSignal) => Promise<void>;
}

/** Early mode: more requests through the pool, per host of the cluster and open test, while the check is awaited. */
export const EXTRA_POOL_REQUESTS_PER_HOST = 4;

export const DEFAULT_COVERAGE: SmokeCoverage = { mode: 'auto', responderHeader: 'X-Server' };

export function emptyProgress(): SmokeProgress {
  return { pool: [], covered: {}, direct: [] };
}

/** Connection reuse when the port offers it; otherwise (fakes) plain requests. */
function sessionOf(http: HttpPort, maxConnections: number): SmokeSession {
  return http.smokeSession?.(maxConnections) ?? { smokeTest: (b, t, o) => http.smokeTest(b, t, o), close: () => {} };
}

export async function runSmoke(http: HttpPort, input: SmokeInput, control: SmokeControl): Promise<SmokeReport> {
  const { tests, release, hosts } = input;
  const coverage = input.coverage ?? DEFAULT_COVERAGE;
  const { progress, signal } = control;
  const members = new Set(hosts);
  const seen = new Set<string>();
  // Named by a passing response through the pool in this attempt: the LB's path to them is proven.
  const named = new Set<string>();
  let passed = 0;
  let failure: SmokeFailure | undefined;
  let unnamed = false;
  const stop = () => failure !== undefined || signal.aborted;
  const cover = (host: string, test: number) => {
    const list = (progress.covered[host] ??= []);
    if (!list.includes(test)) list.push(test);
  };
  const provenThroughPool = (host: string) => tests.every((_, i) => progress.covered[host]?.includes(i));

  const pool = sessionOf(http, SMOKE_CONCURRENCY);
  const askPool = (i: number, requestSignal: AbortSignal) => {
    const t = tests[i] as (typeof tests)[number];
    return pool.smokeTest(input.standbyUrl, t, {
      release,
      timeoutMs: t.timeoutSeconds * 1000,
      responderHeader: coverage.responderHeader,
      signal: requestSignal,
    });
  };
  /** One response through the pool: proves test i on the host it names, or fails the step. */
  const judge = (r: CheckResult, i: number, opts: { unnamedFailures: boolean }) => {
    const t = tests[i] as (typeof tests)[number];
    if (r.host && !members.has(r.host)) {
      failure ??= new SmokeFailure(
        `smoke test ${t.path} was answered by ${describeValue(r.host)}, which is not in the cluster under test (${hosts.join(', ')})`,
      );
      return;
    }
    if (!r.ok) {
      if (failure || (!r.host && !opts.unnamedFailures)) return;
      failure = new SmokeFailure(`smoke test GET ${t.path} through the standby pool failed${r.host ? ` on ${r.host}` : ''}: ${r.reason}`);
      unnamed = !r.host;
      return;
    }
    passed++;
    progress.pool[i] = (progress.pool[i] ?? 0) + 1;
    if (r.host) {
      seen.add(r.host);
      named.add(r.host);
      cover(r.host, i);
    }
  };

  /**
   * Early mode, hosts no response named yet: wait for the LB's check (control.untilRoutable) and,
   * meanwhile, ask the pool a few more times. HAProxy's round robin often sends the first requests
   * after servers leave maint to one of them (seen on the lab: up to 8 in a row), so a few more
   * requests usually name the rest long before the check would. Failures that name no server are
   * left to the check here.
   */
  const confirm = async (unconfirmed: string[], untilRoutable: NonNullable<SmokeControl['untilRoutable']>) => {
    const race = new AbortController();
    const requestSignal = AbortSignal.any([signal, race.signal]);
    const open = () => tests.map((_, i) => i).filter((i) => unconfirmed.some((h) => !progress.covered[h]?.includes(i)));
    const asking = (async () => {
      const limit = EXTRA_POOL_REQUESTS_PER_HOST * hosts.length * open().length;
      for (let n = 0; n < limit && !race.signal.aborted && !stop(); n++) {
        const left = open();
        if (left.length === 0) break;
        const i = left[n % left.length] as number;
        const r = await askPool(i, requestSignal);
        if (race.signal.aborted || stop()) break;
        judge(r, i, { unnamedFailures: false });
      }
      if (stop() || unconfirmed.every(provenThroughPool)) race.abort();
    })();
    // Awaited below, after the wait: until then a rejection must not count as unhandled (it would end the worker).
    asking.catch(() => {});
    try {
      await untilRoutable(unconfirmed, race.signal);
    } catch (err) {
      if (!race.signal.aborted) throw err;
    } finally {
      race.abort();
      await asking;
    }
  };

  try {
    for (const [i, t] of tests.entries()) {
      const rounds = smokePoolRounds(hosts.length);
      const todo = Array.from({ length: Math.max(0, rounds - (progress.pool[i] ?? 0)) }, (_, k) => k);
      await eachBounded(todo, SMOKE_CONCURRENCY, stop, async () => {
        const r = await askPool(i, signal);
        if (!stop()) judge(r, i, { unnamedFailures: true });
      });
      if (failure && unnamed) {
        if (control.untilRoutable) throw new PoolNotConfirmed(failure.message);
        throw await diagnosed(http, input, i, failure, signal);
      }
      if (failure) throw failure;
      if (signal.aborted) throw signal.reason;
      if (coverage.mode === 'pool') {
        const missing = hosts.filter((h) => !progress.covered[h]?.includes(i));
        if (missing.length > 0) throw new SmokeFailure(notReached(t.path, missing, rounds, coverage));
      }
    }

    const needsDirect = (h: string) => !progress.direct.includes(h) && (coverage.mode === 'direct' || !provenThroughPool(h));
    const unconfirmed = hosts.filter((h) => needsDirect(h) && !named.has(h));
    if (control.untilRoutable && unconfirmed.length > 0 && !stop()) await confirm(unconfirmed, control.untilRoutable);
    if (failure) throw failure;
    // Seen by an earlier attempt counts as seen: the report says what the whole step proved.
    for (const h of hosts) if ((progress.covered[h]?.length ?? 0) > 0 && !progress.direct.includes(h)) seen.add(h);

    const directly = hosts.filter((h) => coverage.mode === 'direct' || tests.some((_, i) => !progress.covered[h]?.includes(i)));
    const todo = directly.filter((h) => !progress.direct.includes(h));
    await eachBounded(todo, SMOKE_CONCURRENCY, stop, async (host) => {
      const base = input.hostUrls?.[host];
      if (base === undefined) {
        failure ??= new SmokeFailure(`no response through the standby pool named ${host}, and there is no URL to test it directly`);
        return;
      }
      // One connection per host, reused for its tests and closed after them: 500 hosts must not
      // mean 500 idle sockets.
      const own = sessionOf(http, 1);
      try {
        for (const [i, t] of tests.entries()) {
          if (stop()) return;
          if (coverage.mode !== 'direct' && progress.covered[host]?.includes(i)) continue;
          const r: CheckResult = await own.smokeTest(base, t, {
            release,
            timeoutMs: t.timeoutSeconds * 1000,
            responderHeader: coverage.responderHeader,
            signal,
          });
          if (stop()) return;
          if (!r.ok) {
            const why = coverage.mode === 'direct' ? '' : `; no response through the standby pool named ${host}`;
            failure ??= new SmokeFailure(
              `smoke test GET ${t.path} failed on ${host} (direct request to ${new URL(t.path, base).href}${why}): ${r.reason}`,
            );
            return;
          }
          passed++;
          cover(host, i);
        }
        progress.direct.push(host);
      } finally {
        own.close();
      }
    });
    if (failure) throw failure;
    if (signal.aborted) throw signal.reason;
    return { passed, hostsSeen: [...seen].sort(), ...(directly.length > 0 ? { testedDirectly: directly } : {}) };
  } finally {
    pool.close();
  }
}

/**
 * A failed response through the pool that names no server says nothing about which host is broken:
 * ask each host directly (its own URL) for that test, so the failure names the hosts that fail it.
 */
async function diagnosed(http: HttpPort, input: SmokeInput, i: number, failure: SmokeFailure, signal: AbortSignal): Promise<SmokeFailure> {
  const t = input.tests[i];
  const c = input.coverage ?? DEFAULT_COVERAGE;
  const unnamed = `${failure.message} (the response did not name its server: no ${c.responderHeader} or X-Host header, no JSON "host")`;
  if (!t || !input.hostUrls || signal.aborted) return new SmokeFailure(unnamed);
  const urls = input.hostUrls;
  const failing: string[] = [];
  await eachBounded(
    input.hosts,
    SMOKE_CONCURRENCY,
    () => signal.aborted,
    async (host) => {
      const base = urls[host];
      if (base === undefined) return;
      const r = await http.smokeTest(base, t, {
        release: input.release,
        timeoutMs: t.timeoutSeconds * 1000,
        responderHeader: c.responderHeader,
        signal,
      });
      if (!r.ok && !signal.aborted) failing.push(`${host} (${r.reason})`);
    },
  );
  if (signal.aborted) return new SmokeFailure(unnamed);
  const shown = failing.length > 10 ? `${failing.slice(0, 10).join(', ')} and ${failing.length - 10} more` : failing.join(', ');
  return new SmokeFailure(
    failing.length > 0 ? `${unnamed}; asked directly, it fails on ${shown}` : `${unnamed}; asked directly, every host passes it`,
  );
}

function notReached(path: string, missing: string[], rounds: number, c: SmokeCoverage): string {
  const shown = missing.length > 10 ? `${missing.slice(0, 10).join(', ')} and ${missing.length - 10} more` : missing.join(', ');
  return (
    `smoke test ${path}: no passing response through the standby pool named ${shown} in ${rounds} requests ` +
    `(smokeCoverage.mode is pool: every host must be named, by ${c.responderHeader}, X-Host or a JSON "host"; ` +
    `HAProxy adds one with \`http-response set-header ${c.responderHeader} %s\` in the standby backend)`
  );
}

/** The smoke tests' own time limit, as a signal whose clock stops while `outside` runs (a wait for the LB's check). */
export function smokeBudget(ms: number): { signal: AbortSignal; outside<T>(fn: () => Promise<T>): Promise<T>; clear(): void } {
  const ctl = new AbortController();
  let left = ms;
  let since = Date.now();
  const arm = () => setTimeout(() => ctl.abort(new DOMException('smoke budget used up', 'TimeoutError')), Math.max(0, left));
  let timer = arm();
  return {
    signal: ctl.signal,
    async outside(fn) {
      clearTimeout(timer);
      left -= Date.now() - since;
      try {
        return await fn();
      } finally {
        since = Date.now();
        if (!ctl.signal.aborted) timer = arm();
      }
    },
    clear: () => clearTimeout(timer),
  };
}
