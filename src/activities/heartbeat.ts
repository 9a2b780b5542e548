// Heartbeats on a timer, never per unit of work: however many hosts an activity drives, it sends
// one heartbeat every few seconds (the SDK throttles further), so a run with 500 hosts in flight
// never floods its workflow (`Workflow is busy`), and a check interval or a slow command of any
// length never starves the heartbeat.
import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';

export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs `work` while heartbeating `details()` every HEARTBEAT_EVERY_MS. The details are what a
 * retried attempt resumes from (Context.current().info.heartbeatDetails).
 */
export async function withHeartbeat<T>(details: () => unknown, work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  // Every host in flight waits on the cancellation signal (its SSH command, its health polls): up
  // to the plan's parallelism, 64 for preflight's reads. Many listeners is the design, not a leak,
  // and Node's warning past 10 would only alarm whoever reads the worker's log.
  setMaxListeners(0, ctx.cancellationSignal);
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
