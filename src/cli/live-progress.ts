// Live progress of a step while its activity runs. The workflow learns a cluster's per-host outcome
// only when its deploy activity ends; until then the progress lives in the activity's heartbeat
// details, which Temporal keeps with the pending activity (describe → pendingActivities). Read-only.
import { fromPayloadsAtIndex } from '@temporalio/common';
import { isDeployProgress, isSmokeProgress } from '../activities/types';
import type { RunRef, Session } from './context';
import { messageOf } from './errors';

export interface LiveProgress {
  /** The activity: deployHosts (step deploy) or smokeTest (step verify). */
  activity: string;
  cluster?: string;
  /** Hosts healthy on the release (deploy), or smoke requests passed (verify). */
  done: number;
  /** Hosts of the cluster (deploy), when the details say. */
  total?: number;
  inFlight: string[];
  failed: string[];
  /** Hosts tested directly (verify). */
  direct?: number;
  attempt: number;
  /** When the activity last heartbeated (the details are at most that old). */
  lastHeartbeat?: string;
}

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
      if (activity !== 'deployHosts' && activity !== 'smokeTest') continue;
      let payloads = a.heartbeatDetails?.payloads ?? [];
      if (payloads.length === 0) continue;
      for (const codec of [...converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
      const details: unknown = fromPayloadsAtIndex(converter.payloadConverter, 0, payloads);
      const common = { activity, attempt: a.attempt ?? 1, lastHeartbeat: toIso(a.lastHeartbeatTime) };
      if (activity === 'deployHosts' && isDeployProgress(details)) {
        out.push({
          ...common,
          cluster: details.cluster,
          done: details.done.length,
          total: details.total,
          inFlight: details.inFlight ?? [],
          failed: details.failed ?? [],
        });
      } else if (activity === 'smokeTest' && isSmokeProgress(details)) {
        out.push({ ...common, done: details.pool.reduce((x, y) => x + y, 0), direct: details.direct.length, inFlight: [], failed: [] });
      }
    }
    return { progress: out };
  } catch (err) {
    // Progress is a bonus on top of the status: never fail `status` for it.
    return { progress: [], problem: `live progress unavailable: ${messageOf(err)}` };
  }
}
