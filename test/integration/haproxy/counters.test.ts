// The bake's readings from a real HAProxy 2.6: per-server response counters from show stat, and the
// window arithmetic across a restart of HAProxy (its counters start again from 0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { HaproxyLoadBalancer } from '../../../src/adapters/haproxy/load-balancer';
import { parseServerCounters } from '../../../src/adapters/haproxy/counters';
import { UnknownServerError, waitUntilUp } from '../../../src/activities/lb';
import { LbProtocolError } from '../../../src/ports/lb';
import type { LbConfig } from '../../../src/ports/lb';
import { advance, judge, openWindow } from '../../../src/workflows/bake-rules';
import { FakeFleet } from '../../support/fake-fleet';
import { request, startApp, startHaproxy, stopApp, stopHaproxy, type App, type Haproxy } from '../../support/haproxy';

let apps: App[] = [];
let hx: Haproxy | undefined;
const lbOf = (h: Haproxy) => new HaproxyLoadBalancer({ runtimeApi: { socket: h.socket }, liveBackend: 'live', standbyBackend: 'standby' });

async function until(what: string, fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `n` requests pinned to `server`, every `failEvery`-th one to /fail (500). */
async function send(h: Haproxy, server: string, n: number, failEvery = 0): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const r = await request(`${h.liveUrl}/${failEvery && i % failEvery === 0 ? 'fail' : 'ok'}`, { 'x-pin': server });
    expect(r.host).toBe(server);
  }
}

beforeAll(async () => {
  apps = [await startApp('a'), await startApp('b'), await startApp('c', false)];
  hx = await startHaproxy(apps);
  const lb = lbOf(hx);
  await waitUntilUp(lb, 'live', ['a', 'b'], { deadlineMs: 5000, pollMs: 100 });
  await until('c DOWN', async () => (await lb.readServers('live')).find((s) => s.server === 'c')?.status === 'DOWN');
});

afterAll(async () => {
  await stopHaproxy(hx);
  await Promise.all(apps.map(stopApp));
});

describe('per-server counters from a real HAProxy', () => {
  it('counts each server’s responses and 5xx, with its status and last check', async () => {
    const lb = lbOf(hx!);
    const before = await lb.readCounters('live');
    await send(hx!, 'a', 30, 3);
    await send(hx!, 'b', 12);
    const after = await lb.readCounters('live');
    const f = advance(openWindow(before), after);
    expect(f.map((x) => [x.server, x.responses, x.r5xx])).toEqual([
      ['a', 30, 10],
      ['b', 12, 0],
      ['c', 0, 0],
    ]);
    const c = after.find((x) => x.server === 'c')!;
    expect(c.status).toBe('DOWN');
    expect(c.checkStatus).toBe('L7STS');
    expect(after.find((x) => x.server === 'a')).toMatchObject({ status: 'UP', checkStatus: 'L7OK' });
    expect(judge('x', f.slice(0, 2), { max5xxRatio: 0.05, minRequests: 20, anyServerDown: true }, 2).breach).toBe(
      'a: 5xx 33.3% of 30 responses in 2 s, limit 5%',
    );
  });

  it('after HAProxy restarts (counters from 0) the window keeps what it had counted', async () => {
    let lb = lbOf(hx!);
    const w = openWindow((await lb.readCounters('live')).filter((x) => x.server === 'a'));
    await send(hx!, 'a', 20, 4); // 20 responses, 5 of them 5xx
    advance(w, await lb.readCounters('live'));
    await stopHaproxy(hx);
    hx = await startHaproxy(apps);
    lb = lbOf(hx);
    await waitUntilUp(lb, 'live', ['a'], { deadlineMs: 5000, pollMs: 100 });
    await send(hx, 'a', 10, 2); // 10 more, 5 of them 5xx, on counters that started again
    const [a] = advance(w, await lb.readCounters('live'));
    expect(a).toMatchObject({ server: 'a', responses: 30, r5xx: 10, resets: 1 });
  });

  it('the readCounters activity returns the servers asked for, in that order, and names unknown ones', async () => {
    const { readCounters } = createActivities({ ...new FakeFleet(['a'], 'v1').deps(), lb: () => lbOf(hx!) });
    const cfg = {
      type: 'haproxy',
      runtimeApi: { socket: hx!.socket },
      liveBackend: 'live',
      standbyBackend: 'standby',
      standbyUrl: 'http://x',
    } as LbConfig;
    expect((await readCounters({ lb: cfg, pool: 'live', servers: ['b', 'a'] })).map((x) => x.server)).toEqual(['b', 'a']);
    await expect(readCounters({ lb: cfg, pool: 'live', servers: ['a', 'zz'] })).rejects.toBeInstanceOf(UnknownServerError);
  });

  it('an LB without per-server counters is refused, not read as zeros', async () => {
    const lb = { description: 'an LB without counters', readServers: async () => [], setState: async () => {}, ping: async () => {} };
    const { readCounters } = createActivities({ ...new FakeFleet(['a'], 'v1').deps(), lb: () => lb });
    await expect(readCounters({ lb: {} as LbConfig, pool: 'live', servers: ['a'] })).rejects.toMatchObject({ type: 'CountersUnsupported' });
  });

  it('refuses a reply without the counter columns instead of reading zeros', () => {
    const reply = '# pxname,svname,status,check_status\nlive,a,UP,L7OK\n\n';
    expect(() => parseServerCounters('test', 'live', reply)).toThrow(LbProtocolError);
    expect(() => parseServerCounters('test', 'live', reply)).toThrow(/no "hrsp_1xx" column/);
  });
});
