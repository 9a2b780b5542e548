// Inputs and outputs of the activities: the contract between the workflow and the worker.
// Only data that is safe in history goes here: never keys, passwords or tokens.
import type { Plan } from '../plan/schema';
import type { LbConfig, PoolName } from '../ports/lb';
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

/** What a deployHosts attempt heartbeats, and the next attempt resumes from. */
export interface DeployProgress {
  done: string[];
}

export function isDeployProgress(d: unknown): d is DeployProgress {
  return typeof d === 'object' && d !== null && Array.isArray((d as DeployProgress).done) && (d as DeployProgress).done.every((x) => typeof x === 'string');
}

export interface DrainInput {
  lb: LbConfig;
  servers: string[];
  deadlineSeconds: number;
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
}

export interface SmokeInput {
  standbyUrl: string;
  tests: Plan['smoke'];
  release: string;
  /** The hosts expected to answer through the standby pool. */
  hosts: string[];
}

export interface SmokeReport {
  passed: number;
  hostsSeen: string[];
}

export interface MigrateInput {
  host: HostRef;
  command: string;
  release: string;
}
