// The load balancer port: two pools (live and standby), servers in both under the same name, three
// admin states. The activities' drain, wait and live-pool guard (src/activities/lb.ts) use only this;
// each LB kind is an adapter folder (src/adapters/haproxy, ...) that implements it and throws the
// errors below, whose names the workflow's retry policy knows.
import { LB_NAME_PATTERN } from '../plan/patterns';
import type { Plan } from '../plan/schema';

export type LbConfig = Plan['loadBalancer'];
export type PoolName = 'live' | 'standby';
export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerState {
  pool: PoolName;
  server: string;
  /** What an operator (or we) asked for. */
  admin: AdminState;
  /** What the LB reports: UP, DOWN, MAINT, DRAIN, NOLB, or a transitional text such as "UP 1/3". */
  status: string;
  /** Sessions open to this server through this pool, plus requests queued for it. */
  sessions: number;
}

export interface LoadBalancer {
  /** Human-readable address for errors and logs. */
  readonly description: string;
  readServers(pool: PoolName): Promise<ServerState[]>;
  /** Idempotent: setting the state a server already has changes nothing. */
  setState(pool: PoolName, server: string, state: AdminState): Promise<void>;
  /** Proves the LB answers and both pools exist. */
  ping(): Promise<void>;
  /**
   * Several servers at once, for LBs where each change is expensive (nginx: a file write and a
   * reload). Optional: without it the helpers call setState once per server.
   */
  setStates?(pool: PoolName, servers: string[], state: AdminState): Promise<void>;
  /**
   * Optional: each server's cumulative response counters in `pool` (the bake reads them). An LB
   * that does not count responses per server leaves it out, and a plan with a bake is refused.
   */
  readCounters?(pool: PoolName): Promise<ServerCounters[]>;
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

/** Builds the adapter for a plan's loadBalancer section (the worker picks the kind). */
export type LbPort = (config: LbConfig) => LoadBalancer;

// Error names double as Temporal failure types (an activity's thrown Error keeps its name).
export abstract class LbError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The LB cannot be reached, or did not answer in time. Retrying may help. */
export class LbUnavailableError extends LbError {
  constructor(
    readonly address: string,
    readonly code: string,
    detail?: string,
  ) {
    super(`load balancer API at ${address} unavailable: ${code}${detail ? ` (${detail})` : ''}`);
  }
}

/** Printable start of a reply, for error messages (never the whole of a huge or binary reply). */
export function replyStart(reply: string, max = 120): string {
  return reply.slice(0, max).replace(/[^\x20-\x7e\n]/g, '?');
}

/** The LB answered with something we cannot read; we refuse to guess. */
export class LbProtocolError extends LbError {
  constructor(
    readonly address: string,
    readonly problem: string,
    readonly replyStart: string,
  ) {
    super(`unreadable reply from load balancer at ${address}: ${problem}; reply starts with ${JSON.stringify(replyStart)}`);
  }
}

/** The LB refused a command and said why. */
export class LbCommandError extends LbError {
  constructor(
    readonly command: string,
    readonly reply: string,
  ) {
    super(`load balancer refused "${command}": ${reply}`);
  }
}

/** A name that must never reach the LB (pattern mismatch), caught before anything is sent. */
export class UnsafeLbNameError extends LbError {
  constructor(
    readonly what: string,
    readonly value: string,
  ) {
    super(`unsafe ${what} name ${JSON.stringify(value.slice(0, 80))}: expected ${LB_NAME_PATTERN}`);
  }
}

// Names HAProxy (and most LBs) accept, and that cannot smuggle a second command: one definition
// with the plan schema, which checks the same names before a run starts.
export { LB_NAME_PATTERN };

export function assertSafeName(what: string, value: string): void {
  if (typeof value !== 'string' || !LB_NAME_PATTERN.test(value)) throw new UnsafeLbNameError(what, String(value));
}
