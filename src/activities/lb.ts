// The fleet logic on top of the load balancer port (src/ports/lb.ts): drain, wait until UP, and
// the guard that keeps the live pool from going empty. It uses only the interface, so every LB
// adapter gets these for free.

import { LbError, type AdminState, type LoadBalancer, type PoolName, type ServerState } from '../ports/lb';
import { pollSchedule, sleep } from '../sleep';

export class UnknownServerError extends LbError {
  constructor(
    readonly pool: PoolName,
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
    readonly pool: PoolName,
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
    super(
      `refusing to take ${removing.join(', ')} out of the live pool: no other server would be UP and ready (${list || 'no other servers'})`,
    );
  }
}

/** Both pools as the port describes them, and nothing an adapter may add (it would go into history). */
export async function readPools(lb: LoadBalancer): Promise<ServerState[]> {
  const [live, standby] = await Promise.all([lb.readServers('live'), lb.readServers('standby')]);
  return [...live, ...standby].map((s) => ({ server: s.server, pool: s.pool, admin: s.admin, status: s.status, sessions: s.sessions }));
}

/**
 * Ready and fully UP. Transitional "UP 1/2" does not count: HAProxy 2.6 shows it both for a
 * server whose checks start failing and for one that just left maint, which it calls UP before
 * any check has run; only plain "UP" (with fall > 1) proves a check passed since.
 */
export function isUp(s: ServerState): boolean {
  return s.admin === 'ready' && s.status === 'UP';
}

/**
 * Ready and taking requests, if not yet proven by a check: plain "UP", or HAProxy's "UP 1/2" (it
 * just left maint, or a check failed since). A passing response through the pool that names the
 * server proves the path to it as well as a check would; isUp is the proof without such traffic.
 */
export function isRoutable(s: ServerState): boolean {
  return s.admin === 'ready' && (s.status === 'UP' || s.status.startsWith('UP '));
}

function describe(s: ServerState): string {
  return s.admin === 'ready' ? s.status : `${s.status} (admin ${s.admin})`;
}

async function pick(lb: LoadBalancer, pool: PoolName, servers: string[]): Promise<Map<string, ServerState>> {
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
export async function ensureState(lb: LoadBalancer, pool: PoolName, servers: string[], state: AdminState): Promise<string[]> {
  const current = await pick(lb, pool, servers);
  const changed = servers.filter((server) => current.get(server)?.admin !== state);
  await setMany(lb, pool, changed, state);
  return changed;
}

/**
 * Ready in `pool` (setting only what is not); true when every server already was, and takes requests
 * now (isRoutable). A server set ready just now was out of rotation: false.
 */
export async function readyAndRoutable(lb: LoadBalancer, pool: PoolName, servers: string[]): Promise<boolean> {
  const current = await pick(lb, pool, servers);
  const changed = servers.filter((server) => current.get(server)?.admin !== 'ready');
  await setMany(lb, pool, changed, 'ready');
  return changed.length === 0 && servers.every((server) => isRoutable(current.get(server)!));
}

async function setMany(lb: LoadBalancer, pool: PoolName, servers: string[], state: AdminState): Promise<void> {
  if (servers.length === 0) return;
  if (lb.setStates) return lb.setStates(pool, servers, state);
  for (const server of servers) await lb.setState(pool, server, state);
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
  const nextDelay = pollSchedule(pollMs);
  for (;;) {
    const sessions = await sessionsOf(lb, servers);
    const progress = { elapsedMs: Date.now() - started, sessions };
    opts.onProgress?.(progress);
    if (Object.values(sessions).every((n) => n === 0)) return progress;
    const left = opts.deadlineMs - (Date.now() - started);
    try {
      if (left <= 0) throw new DrainTimeoutError(opts.deadlineMs, nonZero(sessions), []);
      await sleep(Math.min(nextDelay(), left), opts.signal);
    } catch (err) {
      const { restored, restoreError } = await restoreDraining(lb, servers);
      if (err instanceof DrainTimeoutError) throw new DrainTimeoutError(opts.deadlineMs, nonZero(sessions), restored, restoreError);
      throw err;
    }
  }
}

async function ensureDrained(lb: LoadBalancer, servers: string[]): Promise<void> {
  const live = await pick(lb, 'live', servers);
  await setMany(
    lb,
    'live',
    servers.filter((s) => live.get(s)?.admin === 'ready'),
    'drain',
  );
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
    const draining = servers.filter((s) => live.get(s)?.admin === 'drain');
    await setMany(lb, 'live', draining, 'ready');
    restored.push(...draining);
    return { restored };
  } catch (err) {
    return { restored, restoreError: err instanceof Error ? err.message : String(err) };
  }
}

/** Waits until every server is ready and UP in `pool`; NotUpError names each one's last status. */
export async function waitUntilUp(
  lb: LoadBalancer,
  pool: PoolName,
  servers: string[],
  opts: PollOptions & { onProgress?: (statuses: Record<string, string>) => void },
): Promise<void> {
  const started = Date.now();
  const pollMs = opts.pollMs ?? 300;
  const nextDelay = pollSchedule(pollMs);
  for (;;) {
    const current = await pick(lb, pool, servers);
    const statuses = Object.fromEntries(servers.map((s) => [s, describe(current.get(s)!)]));
    opts.onProgress?.(statuses);
    if (servers.every((s) => isUp(current.get(s)!))) return;
    // A server held in maint or drain never becomes UP by waiting: say so now.
    const held = servers.filter((s) => current.get(s)!.admin !== 'ready');
    if (held.length) throw new NotUpError(pool, Date.now() - started, pickKeys(statuses, held));
    const left = opts.deadlineMs - (Date.now() - started);
    if (left <= 0)
      throw new NotUpError(
        pool,
        opts.deadlineMs,
        pickKeys(
          statuses,
          servers.filter((s) => !isUp(current.get(s)!)),
        ),
      );
    await sleep(Math.min(nextDelay(), left), opts.signal);
  }
}

function pickKeys(rec: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, rec[k] ?? '?']));
}
