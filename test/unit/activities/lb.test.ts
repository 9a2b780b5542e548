// The LB-agnostic helpers against an in-memory LoadBalancer: the paths a real HAProxy makes hard
// to reach on cue (the LB failing mid-way, cancellation, a retry after a crash).
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { ActivityDeps } from '../../../src/activities/deps';
import type { LbConfig } from '../../../src/ports/lb';
import { DrainTimeoutError, drainAndWait, ensureState } from '../../../src/activities/lb';
import { LbUnavailableError, type AdminState, type LoadBalancer, type PoolName, type ServerState } from '../../../src/ports/lb';

class MemoryLb implements LoadBalancer {
  readonly description = 'memory';
  calls: string[] = [];
  failSetsFrom = Infinity;
  private sets = 0;
  constructor(public servers: Record<PoolName, ServerState[]>) {}
  async readServers(pool: PoolName): Promise<ServerState[]> {
    return this.servers[pool].map((s) => ({ ...s }));
  }
  async setState(pool: PoolName, server: string, state: AdminState): Promise<void> {
    if (++this.sets >= this.failSetsFrom) throw new LbUnavailableError('memory', 'ECONNREFUSED');
    this.calls.push(`${pool}/${server}=${state}`);
    const s = this.servers[pool].find((x) => x.server === server)!;
    s.admin = state;
    s.status = state === 'ready' ? 'UP' : state.toUpperCase();
  }
  async ping(): Promise<void> {}
  sessions(pool: PoolName, server: string, n: number) {
    this.servers[pool].find((x) => x.server === server)!.sessions = n;
  }
}

const srv = (pool: PoolName, server: string, admin: AdminState = 'ready', sessions = 0): ServerState => ({
  pool,
  server,
  admin,
  status: admin === 'ready' ? 'UP' : admin.toUpperCase(),
  sessions,
});

function fleet() {
  return new MemoryLb({
    live: [srv('live', 'g1', 'ready', 2), srv('live', 'g2', 'maint', 1), srv('live', 'b1')],
    standby: [srv('standby', 'g1', 'maint', 1)],
  });
}

describe('drainAndWait (any LB)', () => {
  it('drains only ready servers, leaves maint ones alone, and counts sessions over both pools', async () => {
    const lb = fleet();
    const seen: number[] = [];
    setTimeout(() => lb.sessions('live', 'g1', 0), 150);
    setTimeout(() => lb.sessions('standby', 'g1', 0), 250);
    setTimeout(() => lb.sessions('live', 'g2', 0), 350);
    // g2 is absent from standby: it has no sessions there, not an error.
    const done = await drainAndWait(lb, ['g1', 'g2'], {
      deadlineMs: 5000,
      pollMs: 50,
      onProgress: (p) => seen.push(p.sessions.g1! + p.sessions.g2!),
    });
    expect(lb.calls).toEqual(['live/g1=drain']);
    expect(seen[0]).toBe(4);
    expect(done.sessions).toEqual({ g1: 0, g2: 0 });
    expect(lb.servers.live.find((s) => s.server === 'g2')!.admin).toBe('maint');
  });

  it('on timeout puts draining servers back to ready, and leaves maint ones in maint', async () => {
    const lb = fleet();
    const err = await drainAndWait(lb, ['g1', 'g2'], { deadlineMs: 200, pollMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainTimeoutError);
    expect(err).toMatchObject({ remaining: { g1: 3, g2: 1 }, restored: ['g1'] });
    expect(lb.calls).toEqual(['live/g1=drain', 'live/g1=ready']);
  });

  it('says so when putting servers back fails, so nobody assumes they are ready', async () => {
    const lb = fleet();
    lb.failSetsFrom = 2;
    const err = (await drainAndWait(lb, ['g1'], { deadlineMs: 150, pollMs: 50 }).catch((e: unknown) => e)) as DrainTimeoutError;
    expect(err).toBeInstanceOf(DrainTimeoutError);
    expect(err.restoreError).toMatch(/unavailable: ECONNREFUSED/);
    expect(err.message).toMatch(/putting them back to ready FAILED .*they may still be draining/);
  });

  it('when cancelled, stops waiting and puts draining servers back to ready', async () => {
    const lb = fleet();
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('activity cancelled')), 100);
    await expect(drainAndWait(lb, ['g1'], { deadlineMs: 10_000, pollMs: 50, signal: abort.signal })).rejects.toThrow('activity cancelled');
    expect(lb.calls).toEqual(['live/g1=drain', 'live/g1=ready']);
  });

  it('resumes after a crash without setting anything again', async () => {
    const lb = fleet();
    lb.servers.live[0]!.admin = 'drain';
    lb.sessions('live', 'g1', 0);
    lb.sessions('standby', 'g1', 0);
    await drainAndWait(lb, ['g1'], { deadlineMs: 1000 });
    expect(lb.calls).toEqual([]);
  });
});

describe('ensureState (any LB)', () => {
  it('changes only the servers that differ', async () => {
    const lb = fleet();
    expect(await ensureState(lb, 'live', ['g1', 'g2', 'b1'], 'ready')).toEqual(['g2']);
    expect(lb.calls).toEqual(['live/g2=ready']);
  });
});

describe('an LB that changes several servers at once (setStates)', () => {
  class BatchLb extends MemoryLb {
    batches: string[] = [];
    async setStates(pool: PoolName, servers: string[], state: AdminState): Promise<void> {
      this.batches.push(`${pool}/${servers.join(',')}=${state}`);
      for (const s of servers) await this.setState(pool, s, state);
    }
  }
  const batchFleet = () =>
    new BatchLb({
      live: [srv('live', 'g1'), srv('live', 'g2'), srv('live', 'b1')],
      standby: [srv('standby', 'g1', 'maint'), srv('standby', 'g2', 'maint')],
    });

  it('ensureState sends one batch with only the servers that differ, and none when nothing does', async () => {
    const lb = batchFleet();
    lb.servers.standby[1]!.admin = 'ready';
    expect(await ensureState(lb, 'standby', ['g1', 'g2'], 'ready')).toEqual(['g1']);
    expect(await ensureState(lb, 'standby', ['g1', 'g2'], 'ready')).toEqual([]);
    expect(lb.batches).toEqual(['standby/g1=ready']);
  });

  it('a drain is one batch, and so is putting the cluster back on a deadline', async () => {
    const lb = batchFleet();
    lb.sessions('live', 'g2', 1);
    const err = await drainAndWait(lb, ['g1', 'g2'], { deadlineMs: 50, pollMs: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainTimeoutError);
    expect(lb.batches).toEqual(['live/g1,g2=drain', 'live/g1,g2=ready']);
  });
});

describe('steps 1 and 4 as one activity each', () => {
  const stepFleet = () =>
    new MemoryLb({
      live: [srv('live', 'g1'), srv('live', 'g2'), srv('live', 'b1')],
      standby: [srv('standby', 'g1', 'maint'), srv('standby', 'g2', 'maint'), srv('standby', 'b1', 'maint')],
    });
  const activitiesOn = (memory: MemoryLb) => createActivities({ lb: () => memory } as unknown as ActivityDeps);
  const config = {
    type: 'haproxy',
    runtimeApi: 'tcp://127.0.0.1:1',
    liveBackend: 'live',
    standbyBackend: 'standby',
  } as unknown as LbConfig;

  it('drainFromLive with enterStandby drains, sets maint in live, and only then makes them ready in standby', async () => {
    const lb = stepFleet();
    await new MockActivityEnvironment().run(activitiesOn(lb).drainFromLive, {
      lb: config,
      servers: ['g1', 'g2'],
      deadlineSeconds: 5,
      enterStandby: true,
    });
    expect(lb.calls).toEqual(['live/g1=drain', 'live/g2=drain', 'live/g1=maint', 'live/g2=maint', 'standby/g1=ready', 'standby/g2=ready']);
  });

  it('a retry after the LB failed mid-way changes only what is still missing', async () => {
    const lb = stepFleet();
    lb.failSetsFrom = 5; // the fifth change (standby/g1=ready) fails
    const input = { lb: config, servers: ['g1', 'g2'], deadlineSeconds: 5, enterStandby: true };
    await expect(new MockActivityEnvironment().run(activitiesOn(lb).drainFromLive, input)).rejects.toBeInstanceOf(LbUnavailableError);
    lb.failSetsFrom = Infinity;
    lb.calls.length = 0;
    await new MockActivityEnvironment().run(activitiesOn(lb).drainFromLive, input);
    expect(lb.calls).toEqual(['standby/g1=ready', 'standby/g2=ready']);
  });

  it('enterPool live with leaveStandby leaves standby only once the servers are UP in live', async () => {
    const lb = stepFleet();
    for (const s of ['g1', 'g2']) {
      const l = lb.servers.live.find((x) => x.server === s)!;
      l.admin = 'maint';
      l.status = 'MAINT';
      lb.servers.standby.find((x) => x.server === s)!.admin = 'ready';
    }
    // Ready but not UP yet: HAProxy's checks have not passed.
    const setState = lb.setState.bind(lb);
    lb.setState = async (pool, server, state) => {
      await setState(pool, server, state);
      if (pool === 'live' && state === 'ready') lb.servers.live.find((x) => x.server === server)!.status = 'UP 1/2';
    };
    setTimeout(() => lb.servers.live.forEach((s) => (s.status = s.admin === 'ready' ? 'UP' : s.status)), 200);
    const upBeforeLeaving: string[] = [];
    lb.calls = new Proxy(lb.calls, {
      set(target, key, value: string) {
        if (typeof value === 'string' && value.startsWith('standby/'))
          upBeforeLeaving.push(lb.servers.live.find((x) => x.server === value.slice(8, 10))!.status);
        return Reflect.set(target, key, value);
      },
    });
    await new MockActivityEnvironment().run(activitiesOn(lb).enterPool, {
      lb: config,
      pool: 'live' as const,
      servers: ['g1', 'g2'],
      deadlineSeconds: 5,
      leaveStandby: true,
    });
    expect([...lb.calls]).toEqual(['live/g1=ready', 'live/g2=ready', 'standby/g1=maint', 'standby/g2=maint']);
    expect(upBeforeLeaving).toEqual(['UP', 'UP']);
  });

  it('leaveStandby is refused, changing nothing, unless the pool entered is live and UP is awaited', async () => {
    const lb = stepFleet();
    const run = (pool: PoolName, deadlineSeconds: number) =>
      new MockActivityEnvironment().run(activitiesOn(lb).enterPool, {
        lb: config,
        pool,
        servers: ['g1'],
        deadlineSeconds,
        leaveStandby: true,
      });
    await expect(run('standby', 5)).rejects.toThrow(/leaveStandby needs pool live/);
    await expect(run('live', 0)).rejects.toThrow(/leaveStandby needs pool live/);
    expect(lb.calls).toEqual([]);
  });
});
