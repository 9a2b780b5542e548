// Inputs and outputs of the activities: the contract between the workflow and the worker.
// Only data that is safe in history goes here: never keys, passwords or tokens.
import type { Plan } from '../plan/schema';

export type LbConfig = Plan['loadBalancer'];
export type PoolName = 'live' | 'standby';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
}

export interface HostRef {
  /** Name in the LB and in the plan. */
  name: string;
  cluster: string;
  ssh: SshTarget;
  healthUrl: string;
}

export interface LbServerView {
  server: string;
  pool: PoolName;
  /** Administrative state we set: ready, drain or maint. */
  admin: 'ready' | 'drain' | 'maint';
  /** What the LB's health checks say: UP, DOWN, MAINT, DRAIN, NOLB, ... */
  status: string;
  sessions: number;
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

/**
 * One server's cumulative counters in one pool, as the LB counts them (HAProxy `show stat`): they
 * only grow, except when the LB restarts or reloads and they start again from 0.
 */
export interface ServerCounters {
  server: string;
  /** UP, DOWN, MAINT, NOLB, DRAIN, or a transitional text such as "UP 1/2". */
  status: string;
  /** The last health check's result, e.g. L7OK, L7STS, L4CON ("" when checks are off). */
  checkStatus: string;
  /** HTTP responses of every class (hrsp_1xx .. hrsp_5xx and hrsp_other). */
  responses: number;
  /** HTTP responses with a 5xx code (hrsp_5xx). */
  r5xx: number;
  /** Connection and response errors (econ + eresp): requests that got no answer from the server. */
  errors: number;
  /** Average response time in ms over the server's last 1024 requests (HAProxy's rtime); not a delta. */
  rtimeMs: number;
}

export interface CountersInput {
  lb: LbConfig;
  pool: PoolName;
  servers: string[];
}

/** Error types a retry cannot fix; the workflow lists them as non-retryable. */
export const NON_RETRYABLE_ERRORS = [
  'HostKeyError',
  'PlanError',
  'UnsafeValueError',
  'LbCommandError',
  'LbProtocolError',
  'UnknownServerError',
  'UnsafeLbNameError',
  'EmptyLivePoolError',
  'ReleaseMismatch',
  'HealthCheckFailed',
  'SmokeTestFailed',
  'CommandFailed',
  'DrainTimeoutError',
  'NotUpError',
  'CountersUnsupported',
] as const;
