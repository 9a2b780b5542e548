/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (activities honour cancellation). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The wait before the next poll, the n-th (from 0) of a wait: `firstMs`, doubling up to `capMs`.
 * Most waits of a deployment end within a second (a cluster with no sessions left, an app that
 * answers a moment after its restart, HAProxy's next check), and a fixed 250-500 ms poll made
 * every such step pay half a poll on average; a long wait still polls no faster than `capMs`.
 */
export function pollDelay(n: number, capMs: number, firstMs = 25): number {
  return Math.max(1, Math.min(capMs, firstMs * 2 ** Math.min(n, 20)));
}

/** How long a wait polls at its fastest: most of a deployment's waits end within it. */
export const FAST_POLL_FOR_MS = 1000;
/** The fastest pace: a cheap read (an HTTP GET, a Runtime API line). */
export const FAST_POLL_MS = 25;

/**
 * The delays of one wait, from its start: every 25 ms for its first second, then 50 ms doubling up
 * to `capMs`. Doubling from the start overshot the moment a wait ends by up to half of it: an app
 * up 300 ms after its restart was seen at 375 ms, HAProxy's UP after rise x inter (~1 s) at 1.5 s,
 * and a deployment has dozens of such waits in a row (per host, per step). A steady first second
 * costs about 40 reads per wait; a long wait still slows down to the plan's pace.
 */
export function pollSchedule(capMs: number, now: () => number = Date.now): () => number {
  const started = now();
  let slow = 0;
  return () => (now() - started < FAST_POLL_FOR_MS ? Math.max(1, Math.min(capMs, FAST_POLL_MS)) : pollDelay(slow++, capMs, 50));
}
