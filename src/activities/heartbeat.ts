// Heartbeats on a timer, never per unit of work: however many hosts an activity drives, it sends
// one heartbeat every few seconds (the SDK throttles further), so a run with 500 hosts in flight
// never floods its workflow (`Workflow is busy`), and a check interval or a slow command of any
// length never starves the heartbeat.
import { Context } from '@temporalio/activity';

export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs `work` while heartbeating `details()` every HEARTBEAT_EVERY_MS. The details are what a
 * retried attempt resumes from (Context.current().info.heartbeatDetails).
 */
export async function withHeartbeat<T>(details: () => unknown, work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const beat = () => ctx.heartbeat(details());
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** What the previous attempt of this activity last heartbeated, if it was this kind of record. */
export function resumedFrom<T>(isValid: (d: unknown) => d is T): T | undefined {
  const d: unknown = Context.current().info.heartbeatDetails;
  return isValid(d) ? d : undefined;
}
