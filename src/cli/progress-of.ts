// What status shows of a running deploy or smoke activity, from its decoded heartbeat details. Pure,
// and free of the Temporal SDK: both status read paths (full client and light) use it.
import { isDeployProgress, isSmokeProgress } from '../activities/types';

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
  /** Verify still waits for these to be UP in the standby pool, with HAProxy's status of each. */
  notUp?: Record<string, string>;
  attempt: number;
  /** When the activity last heartbeated (the details are at most that old). */
  lastHeartbeat?: string;
}

/** The activities whose heartbeat details status reads; the others' details are never decoded. */
export const PROGRESS_ACTIVITIES: readonly string[] = ['deployHosts', 'smokeTest'];

/** The progress one pending activity's first heartbeat detail describes, or undefined if it is not one. */
export function progressOf(
  activity: string,
  attempt: number,
  lastHeartbeat: string | undefined,
  details: unknown,
): LiveProgress | undefined {
  const common = { activity, attempt, lastHeartbeat };
  if (activity === 'deployHosts' && isDeployProgress(details)) {
    return {
      ...common,
      cluster: details.cluster,
      done: details.done.length,
      total: details.total,
      inFlight: details.inFlight ?? [],
      failed: details.failed ?? [],
    };
  }
  if (activity === 'smokeTest' && isSmokeProgress(details)) {
    const notUp = details.notUp && Object.keys(details.notUp).length > 0 ? { notUp: details.notUp } : {};
    return { ...common, done: details.pool.reduce((x, y) => x + y, 0), direct: details.direct.length, inFlight: [], failed: [], ...notUp };
  }
  return undefined;
}
