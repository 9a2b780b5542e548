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

export interface ReadHostReleaseInput {
  host: HostRef;
  command: string;
}

export interface HealthInput {
  host: HostRef;
  release: string;
  timeoutSeconds: number;
  intervalMs: number;
}

export interface HealthReport {
  ok: boolean;
  release?: string;
  status?: number;
  reason?: string;
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

export interface InstallInput {
  host: HostRef;
  command: string;
  release: string;
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
] as const;
