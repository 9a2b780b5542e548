// Waiting in tests: one polling helper for any condition, one for a run's status. Both say what
// they waited for when they give up.
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../../src/workflows/messages';
import type { DeploymentStatus } from '../../src/workflows/state';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns something truthy, and returns that. An error from `fn` counts as "not
 * yet" (a server still starting); the last one is part of the timeout's message.
 */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(pollMs);
  }
}

/**
 * Polls a run's status query until `pred` holds. Gives up at once if the run ends first (it never
 * will hold then), or at the timeout; a query that fails (the run not started yet) is retried.
 */
export async function waitForStatus(
  handle: WorkflowHandle,
  what: string,
  pred: (s: DeploymentStatus) => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<DeploymentStatus> {
  const deadline = Date.now() + timeoutMs;
  let s: DeploymentStatus | undefined;
  for (;;) {
    s = await handle.query(statusQuery).catch(() => s);
    if (s && (await pred(s))) return s;
    if (s?.outcome) throw new Error(`run ended (${s.outcome}: ${s.reason}) before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${s ? ` (step ${s.step})` : ''}`);
    await sleep(50);
  }
}
