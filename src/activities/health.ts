// Waiting for a host to become healthy: one check at a time through the HTTP port, until the
// deadline. Polling and the deadline are the activities' business; the adapter makes one request.
import type { CheckResult, HttpPort } from '../ports/http';
import { pollSchedule, sleep } from '../sleep';

export class HealthCheckFailed extends Error {
  override readonly name = 'HealthCheckFailed';
  constructor(
    readonly url: string,
    readonly deadlineMs: number,
    readonly attempts: number,
    readonly last: CheckResult,
  ) {
    super(`${url} not healthy within ${deadlineMs} ms after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${last.reason}`);
  }
}

export interface WaitHealthyOptions {
  release?: string;
  deadlineMs: number;
  /** The longest wait between two checks; the first second polls every 25 ms, then 50 ms doubling (pollSchedule). */
  intervalMs?: number;
  /** Per attempt; capped by what is left of the deadline. */
  timeoutMs?: number;
  maxBodyBytes?: number;
  onAttempt?: (result: CheckResult, attempt: number) => void;
  signal?: AbortSignal;
  /** The single check to repeat: the injected HTTP port's. */
  check: HttpPort['checkHealth'];
}

/** Polls the health check until it passes; HealthCheckFailed carries the last result. */
export async function waitUntilHealthy(url: string, opts: WaitHealthyOptions): Promise<CheckResult & { attempts: number }> {
  const started = Date.now();
  const interval = opts.intervalMs ?? 1000;
  const perAttempt = opts.timeoutMs ?? 5000;
  const nextDelay = pollSchedule(interval);
  let last: CheckResult | undefined;
  for (let attempt = 1; ; attempt++) {
    const budget = Math.max(1, Math.min(perAttempt, opts.deadlineMs - (Date.now() - started)));
    const result = await opts.check(url, {
      expectRelease: opts.release,
      timeoutMs: budget,
      maxBodyBytes: opts.maxBodyBytes,
      signal: opts.signal,
    });
    opts.onAttempt?.(result, attempt);
    if (result.ok) return { ...result, attempts: attempt };
    if (opts.signal?.aborted) throw opts.signal.reason;
    // A timeout cut short by the deadline says less than the answer before it: keep that one.
    if (!(last && result.status === 0 && budget < perAttempt)) last = result;
    const after = opts.deadlineMs - (Date.now() - started);
    if (after <= 0) throw new HealthCheckFailed(url, opts.deadlineMs, attempt, last);
    // The plan's interval is the slowest pace: an app is often up a moment after its restart.
    await sleep(Math.min(nextDelay(), after), opts.signal);
  }
}
