// The smoke runner's logic with a fake HTTP check (no sockets): coverage of every host, resume
// from a previous attempt's progress, the failure naming the host, the budget.
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { ActivityDeps } from '../../../src/activities/deps';
import type { CheckResult, HttpPort } from '../../../src/ports/http';
import { emptyProgress, runSmoke } from '../../../src/activities/smoke';
import type { SmokeInput, SmokeProgress } from '../../../src/activities/types';

const POOL = 'http://standby.test';
const hosts = ['g-1', 'g-2', 'g-3'];
const tests = [
  { path: '/a', expectStatus: 200, timeoutSeconds: 5 },
  { path: '/b', expectStatus: 200, timeoutSeconds: 5 },
];
const input = (over: Partial<SmokeInput> = {}): SmokeInput => ({
  standbyUrl: POOL,
  tests,
  release: 'v2',
  hosts,
  hostUrls: Object.fromEntries(hosts.map((h) => [h, `http://${h}.test/health`])),
  ...over,
});

/** A pool that round-robins over `hosts`; `named` says whether responses name their server. */
function fakeHttp(opts: { named?: boolean; failOn?: string; failAfter?: number; poolHosts?: string[] } = {}) {
  const pool = opts.poolHosts ?? hosts;
  const calls: string[] = [];
  let rr = 0;
  const check: HttpPort['smokeTest'] = async (base, test) => {
    if (opts.failAfter !== undefined && calls.length >= opts.failAfter) throw new Error('worker died');
    const direct = base !== POOL ? new URL(base).hostname.split('.')[0] : undefined;
    const host = direct ?? (pool[rr++ % pool.length] as string);
    calls.push(`${direct ? 'direct' : 'pool'}:${host}:${test.path}`);
    const ok = host !== opts.failOn;
    const r: CheckResult = { ok, status: ok ? 200 : 500, reason: ok ? '' : `${test.path}: status 500, expected 200`, ms: 1 };
    return opts.named === false && !direct ? r : { ...r, host };
  };
  const port: HttpPort = { checkHealth: async () => ({ ok: false, status: 0, reason: 'not used', ms: 0 }), smokeTest: check };
  return { check, calls, port };
}

const control = (progress: SmokeProgress = emptyProgress()) => ({ signal: new AbortController().signal, progress });

describe('smoke runner: every host is covered', () => {
  it('through the pool only when every response names its server (2 x hosts requests per test)', async () => {
    const f = fakeHttp();
    const r = await runSmoke(f.port, input(), control());
    expect(f.calls.filter((c) => c.startsWith('pool'))).toHaveLength(2 * 6);
    expect(f.calls.some((c) => c.startsWith('direct'))).toBe(false);
    expect(r.hostsSeen).toEqual(hosts);
    expect(r.testedDirectly).toBeUndefined();
  });

  it('auto: hosts no pool response named get every test directly', async () => {
    const f = fakeHttp({ named: false });
    const r = await runSmoke(f.port, input(), control());
    expect(f.calls.filter((c) => c.startsWith('direct')).sort()).toEqual(hosts.flatMap((h) => [`direct:${h}:/a`, `direct:${h}:/b`]).sort());
    expect(r.testedDirectly).toEqual(hosts);
  });

  it('auto: a host that fails its direct test is named in the failure', async () => {
    // The pool never sends to g-2 (as with `balance source`), so only a direct request can test it.
    const f = fakeHttp({ failOn: 'g-2', poolHosts: ['g-1', 'g-3'] });
    await expect(runSmoke(f.port, input(), control())).rejects.toThrow(
      /^smoke test GET \/a failed on g-2 \(direct request to http:\/\/g-2\.test\/a; no response through the standby pool named g-2\): \/a: status 500/,
    );
  });

  it('a failure through the pool that names no server is followed by direct requests that name the failing host', async () => {
    const f = fakeHttp({ named: false, failOn: 'g-2' });
    await expect(runSmoke(f.port, input(), control())).rejects.toThrow(
      /^smoke test GET \/a through the standby pool failed: \/a: status 500, expected 200 \(the response did not name its server: no X-Server or X-Host header, no JSON "host"\); asked directly, it fails on g-2 \(\/a: status 500, expected 200\)$/,
    );
  });

  it('a host that fails through the pool is named in the failure', async () => {
    const f = fakeHttp({ failOn: 'g-3' });
    await expect(runSmoke(f.port, input(), control())).rejects.toThrow(/^smoke test GET \/a through the standby pool failed on g-3: /);
  });

  it('pool: a host never named through the pool fails the test, naming the host and the HAProxy line', async () => {
    const f = fakeHttp({ named: false });
    await expect(runSmoke(f.port, input({ coverage: { mode: 'pool', responderHeader: 'X-Server' } }), control())).rejects.toThrow(
      /no passing response through the standby pool named g-1, g-2, g-3 in 6 requests .*http-response set-header X-Server %s/,
    );
  });

  it('direct: every host gets every test directly, besides the pool', async () => {
    const f = fakeHttp();
    await runSmoke(f.port, input({ coverage: { mode: 'direct', responderHeader: 'X-Server' } }), control());
    expect(f.calls.filter((c) => c.startsWith('direct'))).toHaveLength(hosts.length * tests.length);
  });

  it('stops with the budget: in-flight requests see the signal', async () => {
    const ac = new AbortController();
    const port = fakeHttp().port;
    port.smokeTest = async (_b, _t, o) => {
      ac.abort(new Error('budget'));
      return { ok: !o.signal?.aborted, status: 0, reason: 'cancelled', ms: 0 };
    };
    await expect(runSmoke(port, input(), { signal: ac.signal, progress: emptyProgress() })).rejects.toThrow('budget');
  });
});

describe('smoke runner: connections', () => {
  it("uses the port's keep-alive sessions (8 connections through the pool, 1 per host directly) and closes every one", async () => {
    const f = fakeHttp({ named: false });
    const sessions: { max: number; requests: number; closed: boolean }[] = [];
    f.port.smokeSession = (max) => {
      const s = { max, requests: 0, closed: false };
      sessions.push(s);
      return { smokeTest: (b, t, o) => (s.requests++, f.check(b, t, o)), close: () => void (s.closed = true) };
    };
    await runSmoke(f.port, input(), control());
    expect(sessions[0]).toEqual({ max: 8, requests: 12, closed: true });
    expect(sessions.slice(1)).toEqual(hosts.map(() => ({ max: 1, requests: 2, closed: true })));
  });
});

describe('smoke runner: resume after a retry', () => {
  it('a second attempt skips the pool requests and hosts the first one passed', async () => {
    const progress = emptyProgress();
    // Attempt 1 dies after 8 requests (6 of test /a through the pool, 2 of /b).
    const first = fakeHttp({ named: false, failAfter: 8 });
    await expect(runSmoke(first.port, input(), control(progress))).rejects.toThrow('worker died');
    expect(progress.pool).toEqual([6, 2]);

    const second = fakeHttp({ named: false });
    const r = await runSmoke(second.port, input(), control(JSON.parse(JSON.stringify(progress)) as SmokeProgress));
    expect(second.calls.filter((c) => c.startsWith('pool'))).toEqual(Array.from({ length: 4 }, (_, i) => `pool:${hosts[i % 3]}:/b`));
    expect(r.passed).toBe(4 + 6); // this attempt's requests: the 8 before are not sent again
  });

  it('a host whose direct tests passed in an earlier attempt is not asked again', async () => {
    const progress: SmokeProgress = { pool: [6, 6], covered: { 'g-1': [0, 1] }, direct: ['g-1'] };
    const f = fakeHttp({ named: false });
    await runSmoke(f.port, input(), control(progress));
    expect(f.calls.filter((c) => c.startsWith('pool'))).toEqual([]);
    expect(f.calls.filter((c) => c.startsWith('direct')).sort()).toEqual([
      'direct:g-2:/a',
      'direct:g-2:/b',
      'direct:g-3:/a',
      'direct:g-3:/b',
    ]);
    expect(progress.direct.sort()).toEqual(hosts);
  });

  it('the activity resumes from its heartbeat details, and starts over on details of another kind', async () => {
    const f = fakeHttp();
    const deps = { http: { smokeTest: f.check } } as unknown as ActivityDeps; // smokeTest needs only http
    const resumed = new MockActivityEnvironment({
      heartbeatDetails: { pool: [6], covered: Object.fromEntries(hosts.map((h) => [h, [0]])), direct: [] },
    });
    await resumed.run(createActivities(deps).smokeTest, input());
    expect(f.calls).toEqual(Array.from({ length: 6 }, (_, i) => `pool:${hosts[i % 3]}:/b`));

    f.calls.length = 0;
    const old = new MockActivityEnvironment({ heartbeatDetails: { passed: 3 } }); // what attempts heartbeated before
    await old.run(createActivities(deps).smokeTest, input());
    expect(f.calls).toHaveLength(12);
  });

  it('the activity heartbeats its progress, which the next attempt can read', async () => {
    const f = fakeHttp();
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(JSON.parse(JSON.stringify(d))));
    await env.run(createActivities({ http: { smokeTest: f.check } } as unknown as ActivityDeps).smokeTest, input());
    expect(beats[0]).toEqual({ pool: [], covered: {}, direct: [] });
  });
});
