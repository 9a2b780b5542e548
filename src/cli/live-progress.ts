// Live progress of a step while its activity runs. The workflow learns a cluster's per-host outcome
// only when its deploy activity ends; until then the progress lives in the activity's heartbeat
// details, which Temporal keeps with the pending activity (describe → pendingActivities). Read-only.
import { fromPayloadsAtIndex } from '@temporalio/common';
import type { RunRef, Session } from './context';
import { messageOf } from './errors';
import { PROGRESS_ACTIVITIES, progressOf, type LiveProgress } from './progress-of';

export type { LiveProgress } from './progress-of';

interface Timestamp {
  seconds?: { toString(): string } | number | null;
  nanos?: number | null;
}

const toIso = (ts: Timestamp | null | undefined): string | undefined =>
  ts?.seconds == null ? undefined : new Date(Number(ts.seconds.toString()) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();

/** The pending deploy and smoke activities' progress; [] when there is none or it cannot be read. */
export async function readLiveProgress(
  session: Session,
  run: RunRef,
  deadlineMs = 3000,
): Promise<{ progress: LiveProgress[]; problem?: string }> {
  try {
    const d = await session.connection.withDeadline(Date.now() + deadlineMs, () => run.handle.describe());
    const converter = session.client.workflow.options.loadedDataConverter;
    const out: LiveProgress[] = [];
    for (const a of d.raw.pendingActivities ?? []) {
      const activity = a.activityType?.name ?? '';
      if (!PROGRESS_ACTIVITIES.includes(activity)) continue;
      let payloads = a.heartbeatDetails?.payloads ?? [];
      if (payloads.length === 0) continue;
      for (const codec of [...converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
      const details: unknown = fromPayloadsAtIndex(converter.payloadConverter, 0, payloads);
      const p = progressOf(activity, a.attempt ?? 1, toIso(a.lastHeartbeatTime), details);
      if (p) out.push(p);
    }
    return { progress: out };
  } catch (err) {
    // Progress is a bonus on top of the status: never fail `status` for it.
    return { progress: [], problem: `live progress unavailable: ${messageOf(err)}` };
  }
}
