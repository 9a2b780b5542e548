// The run's state as the `status` query shows it. Plain data, mutated only by the workflow.
import type { BakeConfig, Plan } from '../plan/schema';
import type { PoolName } from '../ports/lb';
import type { ServerFigures } from './bake-rules';

// A deployment's steps in order: preflight, then per cluster standby, deploy, verify, live and (with
// plan.bake) bake, then migrate; rollback and survey (recovery) are the other ways a run goes.
export type StepName = 'preflight' | 'survey' | 'standby' | 'deploy' | 'verify' | 'live' | 'bake' | 'migrate' | 'rollback' | 'done';
/** The pool a host serves from, as the run last saw it; none: out of both. */
export type HostPool = PoolName | 'none';
export type Outcome = 'succeeded' | 'rolled-back' | 'failed';

export type HostPhase =
  'pending' | 'checked' | 'draining' | 'standby' | 'installing' | 'starting' | 'healthy' | 'verified' | 'live' | 'rolling-back' | 'failed';

export interface HostStatus {
  name: string;
  cluster: string;
  pool: HostPool;
  release: string | null;
  phase: HostPhase;
  lastError?: string;
  /** When SSH could not tell: the release the host's own health endpoint reports (HTTP, no SSH). */
  reportedRelease?: string;
}

export interface ClusterStatus {
  name: string;
  phase: 'pending' | 'standby' | 'deploying' | 'verifying' | 'live' | 'baking' | 'rolling-back' | 'rolled-back' | 'failed';
  hosts: HostStatus[];
}

export interface PendingGate {
  gate: string;
  since: string;
  /** When it expires next (onTimeout "wait" moves it on by timeoutSeconds each time). */
  deadline: string;
  timeoutSeconds: number;
  onTimeout: 'reject' | 'wait';
  approvers?: string[];
}

export interface DecisionRecord {
  kind: 'approve' | 'reject' | 'abort' | 'pause' | 'resume' | 'ignored' | 'expired';
  gate?: string;
  /** The release a gate decision named (what its sender reviewed). */
  release?: string;
  by: string;
  reason?: string;
  at: string;
  note?: string;
}

export interface StepRecord {
  step: StepName;
  cluster?: string;
  startedAt: string;
  ms?: number;
}

/** What stopped the forward run: the first failure, an abort, a rejected gate, or cancellation. */
export interface FailureRecord {
  kind: 'failure' | 'abort' | 'gate' | 'cancel';
  step: StepName;
  cluster?: string;
  host?: string;
  message: string;
  at: string;
}

/** What the rollback did, cluster by cluster, in the order it ran. */
export interface RollbackRecord {
  why: string;
  clusters: {
    cluster: string;
    outcome: 'running' | 'rolled-back' | 'failed' | 'not-attempted';
    /** Each action as it completed, e.g. "installed v1 on green-1". */
    actions: string[];
    /** What it was doing when it stopped, e.g. "install v1 on green-1, green-2". */
    attempting?: string;
    error?: string;
  }[];
}

/** One cluster's bake: its window, and each server's figures as of the last sample. */
export interface BakeRecord {
  cluster: string;
  seconds: number;
  sampleSeconds: number;
  thresholds: BakeConfig['thresholds'];
  /** When the window opened: the counters were read just before the cluster entered the live pool. */
  startedAt: string;
  /** When the watching began (after the live step); the window ends `seconds` later. */
  watchFrom?: string;
  samples: number;
  lastSampleAt?: string;
  outcome: 'running' | 'passed' | 'breached' | 'stopped';
  /** The breach with its numbers, or why the bake stopped. */
  reason?: string;
  /** What was not judged (e.g. fewer responses than minRequests). */
  note?: string;
  servers: ServerFigures[];
}

/** What a recovery (`recoverFleet`) read before it changed anything, host by host. */
export interface SurveyHost {
  host: string;
  cluster: string;
  /** What the currentRelease command printed over SSH. */
  release?: string;
  /** Why the release could not be read (the host is unreachable over SSH, or the command failed). */
  error?: string;
  healthy?: boolean;
  healthReason?: string;
  reportedRelease?: string;
  /** The host in each backend as the LB shows it: "UP", "MAINT (admin maint)", "absent", ... */
  live: string;
  standby: string;
}

/** A recovery: what it found, then cluster by cluster what it decided and how that went. */
export interface RecoveryRecord {
  to: string;
  survey: SurveyHost[];
  clusters: {
    cluster: string;
    /** converge: standby, deploy, verify, live; skip: already on the release, live, UP, out of standby. */
    action: 'converge' | 'skip';
    why: string;
    outcome: 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'not-attempted';
    error?: string;
  }[];
}

/** One webhook of the plan's `notify`: how its deliveries went (README: Notifications). */
export interface NotificationStatus {
  name: string;
  delivered: number;
  failed: number;
  /** The last failure, URL redacted, e.g. "gate-pending: connection refused (ECONNREFUSED) (3 attempts)". */
  lastError?: string;
  lastErrorAt?: string;
}

export interface DeploymentStatus {
  /** Set on recovery runs (`recoverFleet`); a deployment has none. */
  kind?: 'recovery';
  recovery?: RecoveryRecord;
  environment: string;
  release: string;
  fromRelease: string;
  step: StepName;
  cluster?: string;
  waitingFor?: string;
  paused: boolean;
  abortRequested: boolean;
  migrated: boolean;
  outcome?: Outcome;
  reason?: string;
  clusters: ClusterStatus[];
  pendingGate?: PendingGate;
  decisions: DecisionRecord[];
  steps: StepRecord[];
  failure?: FailureRecord;
  rollback?: RollbackRecord;
  cancelled?: boolean;
  /** Only when the plan has `notify`. */
  notifications?: NotificationStatus[];
  /** One per cluster baked (plan.bake), in order; absent without a bake. */
  bakes?: BakeRecord[];
}

export interface DeploymentResult {
  outcome: Outcome;
  reason: string;
  environment: string;
  release: string;
  fromRelease: string;
  migrated: boolean;
  steps: { step: StepName; cluster?: string; ms: number }[];
  hosts: {
    cluster: string;
    host: string;
    release: string | null;
    pool: HostPool;
    phase: HostPhase;
    lastError?: string;
    reportedRelease?: string;
  }[];
  decisions: DecisionRecord[];
  failure?: FailureRecord;
  rollback?: RollbackRecord;
  recovery?: RecoveryRecord;
  notifications?: NotificationStatus[];
  bakes?: BakeRecord[];
}

export function initialStatus(plan: Plan): DeploymentStatus {
  return {
    environment: plan.environment,
    release: plan.release,
    fromRelease: plan.currentRelease,
    step: 'preflight',
    paused: false,
    abortRequested: false,
    migrated: false,
    clusters: plan.order.map((name) => ({
      name,
      phase: 'pending',
      hosts: (plan.clusters[name]?.hosts ?? []).map((h) => ({
        name: h.name,
        cluster: name,
        pool: 'live',
        release: null,
        phase: 'pending',
      })),
    })),
    decisions: [],
    steps: [],
  };
}

export function hostsOf(status: DeploymentStatus, cluster: string): HostStatus[] {
  return status.clusters.find((c) => c.name === cluster)?.hosts ?? [];
}

export function clusterOf(status: DeploymentStatus, cluster: string): ClusterStatus {
  const c = status.clusters.find((x) => x.name === cluster);
  if (!c) throw new Error(`unknown cluster ${cluster}`);
  return c;
}

export function toResult(status: DeploymentStatus, outcome: Outcome, reason: string): DeploymentResult {
  return {
    outcome,
    reason,
    environment: status.environment,
    release: status.release,
    fromRelease: status.fromRelease,
    migrated: status.migrated,
    steps: status.steps.map((s) => ({ step: s.step, cluster: s.cluster, ms: s.ms ?? 0 })),
    hosts: status.clusters.flatMap((c) =>
      c.hosts.map((h) => ({
        cluster: c.name,
        host: h.name,
        release: h.release,
        pool: h.pool,
        phase: h.phase,
        lastError: h.lastError,
        reportedRelease: h.reportedRelease,
      })),
    ),
    decisions: status.decisions,
    failure: status.failure,
    rollback: status.rollback,
    ...(status.recovery ? { recovery: status.recovery } : {}),
    ...(status.notifications ? { notifications: status.notifications } : {}),
    // Only with a bake: results of runs without one stay exactly as they were.
    ...(status.bakes ? { bakes: status.bakes } : {}),
  };
}
