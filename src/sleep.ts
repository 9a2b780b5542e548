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
