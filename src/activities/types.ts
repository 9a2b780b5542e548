// Inputs and outputs of the activities: the contract between the workflow and the worker.
// Only data that is safe in history goes here: never keys, passwords or tokens.
import type { Plan } from '../plan/schema';
import type { LbConfig, PoolName, ServerState } from '../ports/lb';
import type { SshTarget } from '../ports/ssh';

export interface HostRef {
  /** Name in the LB and in the plan. */
  name: string;
  cluster: string;
  ssh: SshTarget;
  healthUrl: string;
}

export interface InspectInput {
  hosts: HostRef[];
  /** Omit to ask only the health endpoints (no SSH). */
  currentReleaseCommand?: string;
  /** The release a healthy host must report; omitted: healthy on whatever release it runs (recovery's survey). */
  expectRelease?: string;
  healthTimeoutSeconds: number;
  /** Hosts read at once. */
  concurrency: number;
}

/** Preflight's reads in one call: the LB's pools and every host (InspectInput). */
export interface FleetReadInput extends InspectInput {
  lb: LbConfig;
}

export interface FleetView {
  servers: ServerState[];
  hosts: HostInspection[];
}

export interface HostInspection {
  host: string;
  /** What the currentRelease command printed. */
  release?: string;
  /** Why the release could not be read (SSH or the command), with the host's name. */
  error?: string;
  errorType?: string;
  healthy?: boolean;
  healthReason?: string;
  /** The release the health endpoint reports, if it says. */
  reportedRelease?: string;
}

export interface DeployInput {
  cluster: string;
  hosts: HostRef[];
  commands: { install: string; currentRelease: string };
  release: string;
  parallelism: number;
  installTimeoutSeconds: number;
  health: { timeoutSeconds: number; intervalMs: number };
  /**
   * Hold each host in maintenance in the standby pool from just before its install until it is
   * healthy on the release, then ready again: the LB's active health checks never see the restart
   * (no DOWN, no alert, no wait for `rise` checks in step 3). A host that fails stays held.
   */
  standbyHold?: LbConfig;
}

export interface HostOutcome {
  host: string;
  ok: boolean;
  /** The release it runs; null when a failed install leaves it unknown. */
  release: string | null;
  error?: string;
  errorType?: string;
}

export interface DeployReport {
  /** Every host that was attempted (or done by an earlier attempt), in plan order. */
  hosts: HostOutcome[];
  /** The host whose failure stopped the cluster. */
  firstFailure?: string;
}

/**
 * What a deployHosts attempt heartbeats: `done` is what the next attempt resumes from; the rest is
 * for people (`bluegreen status` reads it while the step runs). Attempts before these fields
 * existed heartbeated `done` only, so readers treat them as optional.
 */
export interface DeployProgress {
  done: string[];
  /** Hosts being installed or health-checked right now. */
  inFlight?: string[];
  /** Hosts that failed in this attempt. */
  failed?: string[];
  cluster?: string;
  /** Hosts of the cluster. */
  total?: number;
}

export function isDeployProgress(d: unknown): d is DeployProgress {
  return (
    typeof d === 'object' &&
    d !== null &&
    Array.isArray((d as DeployProgress).done) &&
    (d as DeployProgress).done.every((x) => typeof x === 'string')
  );
}

export interface DrainInput {
  lb: LbConfig;
  servers: string[];
  deadlineSeconds: number;
  /** Once drained (maint in live), make them ready in the standby pool too: all of step 1 in one call. */
  enterStandby?: boolean;
}

export interface LeavePoolInput {
  lb: LbConfig;
  pool: PoolName;
  servers: string[];
}

export interface WaitUpInput {
  lb: LbConfig;
  pool: PoolName;
  servers: string[];
  deadlineSeconds: number;
  /** pool live only: once UP there, take them out of the standby pool (maint): all of step 4 in one call. */
  leaveStandby?: boolean;
}

export type SmokeCoverage = NonNullable<Plan['smokeCoverage']>;

export interface SmokeInput {
  standbyUrl: string;
  tests: Plan['smoke'];
  release: string;
  /** The hosts expected to answer through the standby pool. */
  hosts: string[];
  /** How every host is shown to pass; absent (runs started before it existed): `auto`, X-Server. */
  coverage?: SmokeCoverage;
  /** Each host's own origin (its healthUrl's), for direct requests; absent: none can be made. */
  hostUrls?: Record<string, string>;
  /** The activity's own limit from the plan (activity-calls.ts): it fails saying what is left before Temporal's timeout would. */
  deadlineSeconds?: number;
  /**
   * First make sure the hosts are ready in the standby pool and wait (up to `deadlineSeconds`) until
   * they are UP there: all of step 3 in one call. Absent (runs started before): the workflow called
   * enterPool first. The smoke budget starts once they are UP.
   */
  standbyUp?: { lb: LbConfig; deadlineSeconds: number };
}

export interface SmokeReport {
  /** Requests that passed in this attempt (through the pool and direct); a resumed attempt skips what passed before. */
  passed: number;
  /** Hosts that a passing response through the standby pool named. */
  hostsSeen: string[];
  /** Hosts tested with direct requests because no response through the pool named them (or mode direct). */
  testedDirectly?: string[];
}

/**
 * What a smokeTest attempt heartbeats and the next one resumes from: per test (by index), the pool
 * requests that passed; per host, the tests it passed (named by a pool response, or directly); and
 * the hosts whose direct requests are done.
 */
export interface SmokeProgress {
  pool: number[];
  covered: Record<string, number[]>;
  direct: string[];
  /** While step 3 waits for UP in standby (SmokeInput.standbyUp): the hosts not UP yet, with HAProxy's status. */
  notUp?: Record<string, string>;
}

export function isSmokeProgress(d: unknown): d is SmokeProgress {
  if (typeof d !== 'object' || d === null) return false;
  const p = d as SmokeProgress;
  const nums = (a: unknown) => Array.isArray(a) && a.every((x) => Number.isInteger(x) && x >= 0);
  return (
    nums(p.pool) &&
    typeof p.covered === 'object' &&
    p.covered !== null &&
    Object.values(p.covered).every(nums) &&
    Array.isArray(p.direct) &&
    p.direct.every((x) => typeof x === 'string') &&
    (p.notUp === undefined ||
      (typeof p.notUp === 'object' && p.notUp !== null && Object.values(p.notUp).every((x) => typeof x === 'string')))
  );
}

export interface MigrateInput {
  host: HostRef;
  command: string;
  release: string;
}

export interface CountersInput {
  lb: LbConfig;
  pool: PoolName;
  servers: string[];
}
