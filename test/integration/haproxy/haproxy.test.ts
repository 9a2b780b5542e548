// The adapter and the LB-agnostic helpers against a real HAProxy 2.6 (see haproxy-fixture.ts).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HaproxyLoadBalancer } from '../../../src/adapters/haproxy/load-balancer';
import { runtimeCommand } from '../../../src/adapters/haproxy/runtime-api';
import {
  assertLivePoolKeeps,
  DrainTimeoutError,
  drainAndWait,
  EmptyLivePoolError,
  ensureState,
  NotUpError,
  readyAndRoutable,
  UnknownServerError,
  waitUntilUp,
} from '../../../src/activities/lb';
import { LbCommandError, type ServerState } from '../../../src/ports/lb';
import { load, request, startApp, startHaproxy, stopApp, stopHaproxy, type App, type Haproxy } from '../../support/haproxy';
import { until } from '../../support/wait';

let apps: App[] = [];
let hx: Haproxy | undefined;
let lb: HaproxyLoadBalancer;

const byName = (rows: ServerState[]) => Object.fromEntries(rows.map((r) => [r.server, r]));

beforeAll(async () => {
  apps = [await startApp('a'), await startApp('b'), await startApp('c', false)];
  hx = await startHaproxy(apps);
  lb = new HaproxyLoadBalancer({ runtimeApi: { socket: hx.socket }, liveBackend: 'live', standbyBackend: 'standby' });
  // c's health check fails: fall 2 x inter 300 ms.
  await waitUntilUp(lb, 'live', ['a', 'b'], { deadlineMs: 5000, pollMs: 100 });
  await until('c DOWN in live', async () => byName(await lb.readServers('live')).c!.status === 'DOWN', 5000, 50);
});

afterAll(async () => {
  await stopHaproxy(hx);
  await Promise.all(apps.map(stopApp));
});

// Every test starts from the normal state: all live and ready, all standby in maint.
beforeEach(async () => {
  await ensureState(lb, 'live', ['a', 'b', 'c'], 'ready');
  await ensureState(lb, 'standby', ['a', 'b', 'c'], 'maint');
  await waitUntilUp(lb, 'live', ['a', 'b'], { deadlineMs: 5000, pollMs: 100 });
});

describe('HAProxy adapter on a real haproxy', () => {
  it('reads each pool from real show stat and show servers state output', async () => {
    const live = byName(await lb.readServers('live'));
    expect(Object.keys(live).sort()).toEqual(['a', 'b', 'c']);
    expect(live.a).toEqual({ pool: 'live', server: 'a', admin: 'ready', status: 'UP', sessions: 0 });
    expect(live.c!.admin).toBe('ready');
    expect(live.c!.status).toMatch(/^DOWN/);
    const standby = await lb.readServers('standby');
    expect(standby.map((s) => [s.server, s.admin, s.status])).toEqual([
      ['a', 'maint', 'MAINT'],
      ['b', 'maint', 'MAINT'],
      ['c', 'maint', 'MAINT'],
    ]);
    await expect(lb.ping()).resolves.toBeUndefined();
  });

  it('sets drain, maint and ready idempotently and show stat reports each', async () => {
    const rawStatus = async () =>
      (await runtimeCommand({ socket: hx!.socket }, 'show stat live 4 -1'))
        .split('\n')
        .find((l) => l.startsWith('live,b,'))!
        .split(',')[17];
    for (const [state, status] of [
      ['drain', 'DRAIN'],
      ['maint', 'MAINT'],
      ['ready', 'UP'],
    ] as const) {
      await lb.setState('live', 'b', state);
      await lb.setState('live', 'b', state);
      if (state === 'ready') await waitUntilUp(lb, 'live', ['b'], { deadlineMs: 3000, pollMs: 100 });
      expect(await rawStatus()).toBe(status);
      expect(byName(await lb.readServers('live')).b!.admin).toBe(state);
    }
    // ensureState only touches what differs.
    expect(await ensureState(lb, 'live', ['a', 'b'], 'ready')).toEqual([]);
    expect(await ensureState(lb, 'standby', ['a', 'b'], 'ready')).toEqual(['a', 'b']);
    expect(await ensureState(lb, 'standby', ['a', 'b'], 'ready')).toEqual([]);
  });

  it('tells admin drain from health: a drained server whose check fails is admin drain, status DOWN', async () => {
    await lb.setState('live', 'c', 'drain');
    const c = byName(await lb.readServers('live')).c!;
    expect(c.admin).toBe('drain');
    expect(c.status).toMatch(/^DOWN/);
  });

  it('drainAndWait waits for in-flight requests in both pools, and users see no failure', async () => {
    await lb.setState('standby', 'a', 'ready');
    await waitUntilUp(lb, 'standby', ['a'], { deadlineMs: 3000, pollMs: 100 });
    const users = load(`${hx!.liveUrl}/`);
    const t0 = Date.now();
    const viaLive = request(`${hx!.liveUrl}/slow?ms=1200`, { 'x-pin': 'a' });
    const viaStandby = request(`${hx!.standbyUrl}/slow?ms=2200`, { 'x-pin': 'a' });
    await until('a session on a', async () => byName(await lb.readServers('live')).a!.sessions === 1, 5000, 50);
    const progress: Record<string, number>[] = [];
    const done = await drainAndWait(lb, ['a'], { deadlineMs: 10_000, pollMs: 100, onProgress: (p) => progress.push(p.sessions) });
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(done.sessions).toEqual({ a: 0 });
    expect(progress.some((p) => p.a === 2)).toBe(true);
    expect(await viaLive).toMatchObject({ status: 200, host: 'a' });
    expect(await viaStandby).toMatchObject({ status: 200, host: 'a' });
    const live = byName(await lb.readServers('live'));
    expect([live.a!.admin, live.a!.status]).toEqual(['drain', 'DRAIN']);
    // Retrying after a crash is harmless: already drained, nothing in flight, returns at once.
    expect((await drainAndWait(lb, ['a'], { deadlineMs: 1000 })).sessions).toEqual({ a: 0 });
    const { total, failed } = await users.stop();
    expect(total).toBeGreaterThan(20);
    expect(failed).toEqual([]);
  });

  it('drainAndWait on a stuck session times out, names it, and puts the server back to ready', async () => {
    const stuck = request(`${hx!.liveUrl}/hold`, { 'x-pin': 'a' });
    await until('a session on a', async () => byName(await lb.readServers('live')).a!.sessions === 1, 5000, 50);
    const t0 = Date.now();
    const err = await drainAndWait(lb, ['a'], { deadlineMs: 800, pollMs: 100 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(DrainTimeoutError);
    const e = err as DrainTimeoutError;
    expect(e.name).toBe('DrainTimeoutError');
    expect(e.remaining).toEqual({ a: 1 });
    expect(e.restored).toEqual(['a']);
    expect(e.message).toMatch(/a: 1 session\b.*put back to ready in the live pool: a/);
    expect(byName(await lb.readServers('live')).a).toMatchObject({ admin: 'ready', status: 'UP' });
    // The stuck request was never cut.
    apps[0]!.held.splice(0).forEach((release) => release());
    expect(await stuck).toMatchObject({ status: 200, host: 'a' });
  });

  it('refuses to drain the last UP servers of the live pool and changes nothing', async () => {
    // c is DOWN, so a and b are all that serve users.
    const err = await drainAndWait(lb, ['a', 'b'], { deadlineMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmptyLivePoolError);
    expect((err as Error).message).toMatch(/refusing to take a, b out of the live pool.*c: DOWN/);
    const live = byName(await lb.readServers('live'));
    expect([live.a!.admin, live.b!.admin]).toEqual(['ready', 'ready']);
    await expect(assertLivePoolKeeps(lb, ['a'])).resolves.toEqual(['b']);
    await lb.setState('live', 'b', 'drain');
    await expect(assertLivePoolKeeps(lb, ['a'])).rejects.toThrow(/b: DRAIN \(admin drain\)/);
  });

  it('waitUntilUp sees UP, and names each server that is not UP at the deadline', async () => {
    await lb.setState('standby', 'b', 'ready');
    await waitUntilUp(lb, 'standby', ['b'], { deadlineMs: 3000, pollMs: 100 });
    const t0 = Date.now();
    const err = await waitUntilUp(lb, 'live', ['a', 'c'], { deadlineMs: 1000, pollMs: 100 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(err).toBeInstanceOf(NotUpError);
    expect((err as NotUpError).statuses).toEqual({ c: expect.stringMatching(/^DOWN/) });
  });

  it('waitUntilUp does not take the "UP 1/2" HAProxy shows right after maint for UP', async () => {
    // c fails its health check, yet leaving maint makes HAProxy call it UP before any check runs.
    await lb.setState('standby', 'c', 'ready');
    expect(byName(await lb.readServers('standby')).c!.status).toMatch(/^UP \d\/\d$/);
    const err = await waitUntilUp(lb, 'standby', ['c'], { deadlineMs: 1200, pollMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotUpError);
    expect((err as NotUpError).statuses.c).toMatch(/^DOWN/);
  });

  it('out of maint a server takes requests before its next check: readyAndRoutable says so, and the pool reaches it', async () => {
    // Only b is in the standby rotation; it is "UP 1/2" until its next check, and routed to meanwhile.
    expect(await readyAndRoutable(lb, 'standby', ['b'])).toBe(false); // it was in maint: set ready now
    expect(byName(await lb.readServers('standby')).b!.admin).toBe('ready');
    expect(await readyAndRoutable(lb, 'standby', ['b'])).toBe(true);
    expect(await request(`${hx!.standbyUrl}/`)).toMatchObject({ status: 200, host: 'b' });
    // So routable proves no path by itself (the next test: c, whose check fails, is "UP 1/2" too):
    // step 3 counts a host as reached only by a passing response that names it.
  });

  it('waitUntilUp fails at once for a server held in maint', async () => {
    const t0 = Date.now();
    const err = await waitUntilUp(lb, 'standby', ['a'], { deadlineMs: 10_000 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((err as NotUpError).statuses).toEqual({ a: 'MAINT (admin maint)' });
  });

  it('an unknown server is a command error from HAProxy, or an unknown-server error from a helper', async () => {
    const err = await lb.setState('live', 'zz', 'drain').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbCommandError);
    expect((err as LbCommandError).reply).toBe('No such server.');
    await expect(ensureState(lb, 'live', ['a', 'zz'], 'drain')).rejects.toThrow(UnknownServerError);
    expect(byName(await lb.readServers('live')).a!.admin).toBe('ready');
    await expect(waitUntilUp(lb, 'live', ['zz'], { deadlineMs: 100 })).rejects.toThrow(/no server zz in the live pool \(it has: a, b, c\)/);
  });

  it('speaks the same protocol over a TCP Runtime API address', async () => {
    const tcp = new HaproxyLoadBalancer({
      runtimeApi: { host: '127.0.0.1', port: hx!.apiPort },
      liveBackend: 'live',
      standbyBackend: 'standby',
    });
    await tcp.setState('live', 'a', 'drain');
    expect(byName(await lb.readServers('live')).a!.admin).toBe('drain');
    expect(byName(await tcp.readServers('live')).a!.admin).toBe('drain');
    expect(tcp.description).toBe(`HAProxy 127.0.0.1:${hx!.apiPort}`);
  });

  it('a backend that does not exist is a command error, not an empty pool', async () => {
    const wrong = new HaproxyLoadBalancer({ runtimeApi: { socket: hx!.socket }, liveBackend: 'nope', standbyBackend: 'standby' });
    const err = await wrong.readServers('live').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbCommandError);
    expect((err as LbCommandError).reply).toBe('No such proxy.');
    await expect(wrong.ping()).rejects.toThrow(LbCommandError);
  });
});
