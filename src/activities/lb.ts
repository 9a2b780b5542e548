// The load balancer as the deployment sees it: two pools, servers in them, three admin states.
// HAProxy is the first implementation (haproxy.ts); the helpers below only use the interface,
// so another LB gets drain/wait/safety checks for free.

import { LB_NAME_PATTERN } from '../plan/schema';
import { pollDelay, sleep } from './sleep';
import type { ServerCounters } from './types';

export type Pool = 'live' | 'standby';
export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerState {
  pool: Pool;
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
  readServers(pool: Pool): Promise<ServerState[]>;
  /** Idempotent: setting the state a server already has changes nothing. */
  setState(pool: Pool, server: string, state: AdminState): Promise<void>;
  /** Proves the LB answers and both pools exist. */
  ping(): Promise<void>;
  /**
   * Optional: each server's cumulative response counters in `pool` (the bake reads them). An LB
   * that does not count responses per server leaves it out, and a plan with a bake is refused.
   */
  readCounters?(pool: Pool): Promise<ServerCounters[]>;
}

// Error names double as Temporal failure types (an activity's thrown Error keeps its name).
abstract class LbError extends Error {
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

export class UnknownServerError extends LbError {
  constructor(
    readonly pool: Pool,
    readonly servers: string[],
    readonly known: string[],
  ) {
    super(`no server ${servers.join(', ')} in the ${pool} pool (it has: ${known.join(', ') || 'none'})`);
  }
}

export class DrainTimeoutError extends LbError {
  constructor(
    readonly deadlineMs: number,
    readonly remaining: Record<string, number>,
    readonly restored: string[],
    readonly restoreError?: string,
  ) {
    const left = Object.entries(remaining)
      .map(([s, n]) => `${s}: ${n} session${n === 1 ? '' : 's'}`)
      .join(', ');
    const after = restoreError
      ? `; putting them back to ready FAILED (${restoreError}): they may still be draining`
      : `; put back to ready in the live pool: ${restored.join(', ') || 'none'}`;
    super(`drain did not finish within ${deadlineMs} ms (${left})${after}`);
  }
}

export class NotUpError extends LbError {
  constructor(
    readonly pool: Pool,
    readonly deadlineMs: number,
    readonly statuses: Record<string, string>,
  ) {
    const list = Object.entries(statuses)
      .map(([s, st]) => `${s}: ${st}`)
      .join(', ');
    super(`not UP in the ${pool} pool within ${deadlineMs} ms: ${list}`);
  }
}

export class EmptyLivePoolError extends LbError {
  constructor(
    readonly removing: string[],
    readonly others: Record<string, string>,
  ) {
    const list = Object.entries(others)
      .map(([s, st]) => `${s}: ${st}`)
      .join(', ');
    super(`refusing to take ${removing.join(', ')} out of the live pool: no other server would be UP and ready (${list || 'no other servers'})`);
  }
}

// Names HAProxy (and most LBs) accept, and that cannot smuggle a second command: one definition
// with the plan schema, which checks the same names before a run starts.
export { LB_NAME_PATTERN };

export function assertSafeName(what: string, value: string): void {
  if (typeof value !== 'string' || !LB_NAME_PATTERN.test(value)) throw new UnsafeLbNameError(what, String(value));
}

/**
 * Ready and fully UP. Transitional "UP 1/2" does not count: HAProxy 2.6 shows it both for a
 * server whose checks start failing and for one that just left maint, which it calls UP before
 * any check has run; only plain "UP" (with fall > 1) proves a check passed since.
 */
export function isUp(s: ServerState): boolean {
  return s.admin === 'ready' && s.status === 'UP';
}

function describe(s: ServerState): string {
  return s.admin === 'ready' ? s.status : `${s.status} (admin ${s.admin})`;
}

async function pick(lb: LoadBalancer, pool: Pool, servers: string[]): Promise<Map<string, ServerState>> {
  const all = await lb.readServers(pool);
  const byName = new Map(all.map((s) => [s.server, s]));
  const missing = servers.filter((s) => !byName.has(s));
  if (missing.length) throw new UnknownServerError(pool, missing, [...byName.keys()]);
  return byName;
}

export interface PollOptions {
  deadlineMs: number;
  /** The longest wait between two reads; the first ones come sooner (pollDelay). */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Sets `state` only on the servers that do not have it yet; returns those it changed. */
export async function ensureState(lb: LoadBalancer, pool: Pool, servers: string[], state: AdminState): Promise<string[]> {
  const current = await pick(lb, pool, servers);
  const changed: string[] = [];
  for (const server of servers) {
    if (current.get(server)?.admin === state) continue;
    await lb.setState(pool, server, state);
    changed.push(server);
  }
  return changed;
}

/**
 * Refuses (EmptyLivePoolError) when taking `removing` out of the live pool would leave no
 * server there that is ready and UP. Returns the servers that keep the pool alive.
 */
export async function assertLivePoolKeeps(lb: LoadBalancer, removing: string[]): Promise<string[]> {
  const live = await pick(lb, 'live', removing);
  const others = [...live.values()].filter((s) => !removing.includes(s.server));
  const staying = others.filter(isUp).map((s) => s.server);
  if (staying.length === 0) throw new EmptyLivePoolError(removing, Object.fromEntries(others.map((s) => [s.server, describe(s)])));
  return staying;
}

export interface DrainProgress {
  elapsedMs: number;
  /** Sessions per server, summed over both pools. */
  sessions: Record<string, number>;
}

/**
 * Drains `servers` in the live pool and waits until their sessions, summed over BOTH pools,
 * reach 0. Servers already in drain or maint are left as they are (a retry resumes the wait).
 *
 * On deadline or abort, the servers that are still draining are put back to `ready` in the live
 * pool before the error is thrown: drain is a half state (no new users, no end), and going back
 * to ready is the state the cluster had before step 1, which the rollback expects anyway.
 * Servers that were in maint before the call are not touched.
 */
export async function drainAndWait(
  lb: LoadBalancer,
  servers: string[],
  opts: PollOptions & { onProgress?: (p: DrainProgress) => void },
): Promise<DrainProgress> {
  const started = Date.now();
  const pollMs = opts.pollMs ?? 500;
  await assertLivePoolKeeps(lb, servers);
  await ensureDrained(lb, servers);
  for (let n = 0; ; n++) {
    const sessions = await sessionsOf(lb, servers);
    const progress = { elapsedMs: Date.now() - started, sessions };
    opts.onProgress?.(progress);
    if (Object.values(sessions).every((n) => n === 0)) return progress;
    const left = opts.deadlineMs - (Date.now() - started);
    try {
      if (left <= 0) throw new DrainTimeoutError(opts.deadlineMs, nonZero(sessions), []);
      await sleep(Math.min(pollDelay(n, pollMs), left), opts.signal);
    } catch (err) {
      const { restored, restoreError } = await restoreDraining(lb, servers);
      if (err instanceof DrainTimeoutError) throw new DrainTimeoutError(opts.deadlineMs, nonZero(sessions), restored, restoreError);
      throw err;
    }
  }
}

async function ensureDrained(lb: LoadBalancer, servers: string[]): Promise<void> {
  const live = await pick(lb, 'live', servers);
  for (const server of servers) {
    if (live.get(server)?.admin === 'ready') await lb.setState('live', server, 'drain');
  }
}

async function sessionsOf(lb: LoadBalancer, servers: string[]): Promise<Record<string, number>> {
  const live = await pick(lb, 'live', servers);
  // A host may be absent from standby (an LB with no such entry yet): it then has no sessions there.
  const standby = new Map((await lb.readServers('standby')).map((s) => [s.server, s]));
  return Object.fromEntries(servers.map((s) => [s, (live.get(s)?.sessions ?? 0) + (standby.get(s)?.sessions ?? 0)]));
}

function nonZero(sessions: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(sessions).filter(([, n]) => n > 0));
}

async function restoreDraining(lb: LoadBalancer, servers: string[]): Promise<{ restored: string[]; restoreError?: string }> {
  const restored: string[] = [];
  try {
    const live = await pick(lb, 'live', servers);
    for (const server of servers) {
      if (live.get(server)?.admin !== 'drain') continue;
      await lb.setState('live', server, 'ready');
      restored.push(server);
    }
    return { restored };
  } catch (err) {
    return { restored, restoreError: err instanceof Error ? err.message : String(err) };
  }
}

/** Waits until every server is ready and UP in `pool`; NotUpError names each one's last status. */
export async function waitUntilUp(
  lb: LoadBalancer,
  pool: Pool,
  servers: string[],
  opts: PollOptions & { onProgress?: (statuses: Record<string, string>) => void },
): Promise<void> {
  const started = Date.now();
  const pollMs = opts.pollMs ?? 300;
  for (let n = 0; ; n++) {
    const current = await pick(lb, pool, servers);
    const statuses = Object.fromEntries(servers.map((s) => [s, describe(current.get(s)!)]));
    opts.onProgress?.(statuses);
    if (servers.every((s) => isUp(current.get(s)!))) return;
    // A server held in maint or drain never becomes UP by waiting: say so now.
    const held = servers.filter((s) => current.get(s)!.admin !== 'ready');
    if (held.length) throw new NotUpError(pool, Date.now() - started, pickKeys(statuses, held));
    const left = opts.deadlineMs - (Date.now() - started);
    if (left <= 0) throw new NotUpError(pool, opts.deadlineMs, pickKeys(statuses, servers.filter((s) => !isUp(current.get(s)!))));
    await sleep(Math.min(pollDelay(n, pollMs), left), opts.signal);
  }
}

function pickKeys(rec: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, rec[k] ?? '?']));
}
