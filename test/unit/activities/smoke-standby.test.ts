// Step 3 in one activity: the hosts are made ready in the standby pool, then smoke-tested through
// it. HAProxy routes to a server that just left maint ("UP 1/2") before its next check proves it,
// so the tests need not wait for that check when every host takes requests: a passing response
// that names a host proves the path to it. These specify when the activity waits, and for whom,
// with a fake LB whose "check" turns "UP 1/2" into "UP" after a number of reads.
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { ActivityDeps } from '../../../src/activities/deps';
import { smokeBudget } from '../../../src/activities/smoke';
import type { SmokeInput, SmokeReport } from '../../../src/activities/types';
import type { CheckResult, HttpPort } from '../../../src/ports/http';
import type { AdminState, LbConfig, LoadBalancer } from '../../../src/ports/lb';

const POOL = 'http://standby.test';
const hosts = ['g-1', 'g-2', 'g-3'];
const tests = [{ path: '/a', expectStatus: 200, timeoutSeconds: 5 }];

const input = (over: Partial<SmokeInput> = {}): SmokeInput => ({
  standbyUrl: POOL,
  tests,
  release: 'v2',
  hosts,
  hostUrls: Object.fromEntries(hosts.map((h) => [h, `http://${h}.test/health`])),
  standbyUp: { lb: {} as LbConfig, deadlineSeconds: 10 },
  deadlineSeconds: 30,
  ...over,
});

/** The standby pool; every read after `checkAfterReads` is HAProxy's next check: "UP 1/2" becomes "UP". */
function fakeStandby(log: string[], statuses: Record<string, string>, checkAfterReads = Infinity) {
  const state = new Map(
    Object.entries(statuses).map(([server, status]) => [server, { admin: (status === 'MAINT' ? 'maint' : 'ready') as AdminState, status }]),
  );
  let reads = 0;
  const lb: LoadBalancer = {
    description: 'fake standby',
    async readServers(pool) {
      if (++reads > checkAfterReads)
        for (const s of state.values()) if (s.admin === 'ready' && s.status !== 'UP' && s.status !== 'MAINT') s.status = 'UP';
      log.push(`read:${[...state.values()].map((s) => s.status).join(',')}`);
      return [...state].map(([server, s]) => ({ pool, server, admin: s.admin, status: s.status, sessions: 0 }));
    },
    async setState(_pool, server, admin) {
      log.push(`set:${server}:${admin}`);
      // As HAProxy: out of maint, a server is "UP 1/2" until its next check.
      state.set(server, { admin, status: admin === 'ready' ? 'UP 1/2' : 'MAINT' });
    },
    async ping() {},
  };
  return { lb, allUp: () => [...state.values()].every((s) => s.status === 'UP') };
}

/** Round robin over `poolHosts`; `routes()` false: the LB answers 503 itself, naming no server. */
function fakeHttp(
  log: string[],
  opts: { poolHosts?: string[]; failOn?: string; routes?: () => boolean; firstToOne?: number } = {},
): HttpPort {
  let rr = 0;
  let asked = 0;
  const smokeTest: HttpPort['smokeTest'] = async (base, test) => {
    const direct = base !== POOL ? new URL(base).hostname.split('.')[0] : undefined;
    if (!direct && opts.routes && !opts.routes()) {
      log.push('pool:503');
      return { ok: false, status: 503, reason: 'status 503, expected 200', ms: 1 };
    }
    const pool = opts.poolHosts ?? hosts;
    // As HAProxy's round robin right after servers leave maint: the first requests all go to one.
    const host = direct ?? (asked++ < (opts.firstToOne ?? 0) ? (pool[0] as string) : (pool[rr++ % pool.length] as string));
    log.push(`${direct ? 'direct' : 'pool'}:${host}`);
    const ok = host !== opts.failOn;
    const r: CheckResult = { ok, status: ok ? 200 : 500, reason: ok ? '' : `${test.path}: status 500, expected 200`, ms: 1, host };
    return r;
  };
  return { checkHealth: async () => ({ ok: false, status: 0, reason: 'not used', ms: 0 }), smokeTest };
}

/** Runs the smokeTest activity (with a heartbeat context) over these ports. */
function smokeStep(http: HttpPort, lb: LoadBalancer, smokeInput: SmokeInput): Promise<SmokeReport> {
  const { smokeTest } = createActivities({ http, lb: () => lb } as unknown as ActivityDeps);
  return new MockActivityEnvironment().run(smokeTest, smokeInput) as Promise<SmokeReport>;
}

const firstIndex = (log: string[], p: (e: string) => boolean) => log.findIndex(p);

describe('step 3: when the smoke tests wait for the standby check', () => {
  it('hosts that take requests but are not checked yet ("UP 1/2") are tested at once; each named by a pool response needs no check', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'UP 1/2', 'g-2': 'UP 1/2', 'g-3': 'UP' });
    const report = await smokeStep(fakeHttp(log), standby.lb, input());
    expect(report.hostsSeen).toEqual(hosts);
    expect(log.filter((e) => e.startsWith('read'))).toHaveLength(1);
    expect(log.filter((e) => e.startsWith('pool'))).toHaveLength(6);
  });

  it('a host no pool response named waits for the check before its direct tests', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'UP 1/2', 'g-2': 'UP 1/2', 'g-3': 'UP 1/2' }, 3);
    const report = await smokeStep(fakeHttp(log, { poolHosts: ['g-1', 'g-2'] }), standby.lb, input());
    expect(report.testedDirectly).toEqual(['g-3']);
    const checked = firstIndex(log, (e) => e === 'read:UP,UP,UP');
    expect(checked).toBeGreaterThan(firstIndex(log, (e) => e.startsWith('pool')));
    expect(firstIndex(log, (e) => e === 'direct:g-3')).toBeGreaterThan(checked);
    expect(log.filter((e) => e.startsWith('direct'))).toEqual(['direct:g-3']);
  });

  it('hosts the first requests skipped are named by a few more, and nobody waits for the check', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'UP 1/2', 'g-2': 'UP 1/2', 'g-3': 'UP 1/2' }); // never checked
    const report = await smokeStep(fakeHttp(log, { firstToOne: 8 }), standby.lb, input());
    expect(report.hostsSeen).toEqual(hosts);
    expect(report.testedDirectly).toBeUndefined();
    expect(log.filter((e) => e.startsWith('pool')).length).toBeLessThanOrEqual(6 + 4 * 3);
  });

  it('a pool failure that names no server before the check: waits until every host is UP, then tests again', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'UP 1/2', 'g-2': 'UP 1/2', 'g-3': 'UP 1/2' }, 2);
    const report = await smokeStep(fakeHttp(log, { routes: standby.allUp }), standby.lb, input());
    expect(report.hostsSeen).toEqual(hosts);
    expect(log).toContain('pool:503');
    const firstPass = firstIndex(log, (e) => e.startsWith('pool:g-'));
    expect(firstIndex(log, (e) => e === 'pool:503')).toBeLessThan(firstPass);
    expect(firstIndex(log, (e) => e === 'read:UP,UP,UP')).toBeLessThan(firstPass);
  });

  it('a host that fails by name through the pool fails the step at once, without waiting for the check', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'UP 1/2', 'g-2': 'UP 1/2', 'g-3': 'UP 1/2' });
    await expect(smokeStep(fakeHttp(log, { failOn: 'g-2' }), standby.lb, input())).rejects.toThrow(
      /through the standby pool failed on g-2/,
    );
    expect(log.filter((e) => e.startsWith('read'))).toHaveLength(1);
  });

  it('a host that was in maint is set ready, and every host is UP by the check before the first request', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'MAINT', 'g-2': 'UP', 'g-3': 'UP' }, 2);
    await smokeStep(fakeHttp(log), standby.lb, input());
    expect(log[1]).toBe('set:g-1:ready');
    expect(firstIndex(log, (e) => e === 'read:UP,UP,UP')).toBeLessThan(firstIndex(log, (e) => e.startsWith('pool')));
  });

  it('coverage mode pool: every host is UP by the check before the first request', async () => {
    const log: string[] = [];
    const standby = fakeStandby(log, { 'g-1': 'UP 1/2', 'g-2': 'UP 1/2', 'g-3': 'UP 1/2' }, 2);
    await smokeStep(fakeHttp(log), standby.lb, input({ coverage: { mode: 'pool', responderHeader: 'X-Server' } }));
    expect(firstIndex(log, (e) => e === 'read:UP,UP,UP')).toBeLessThan(firstIndex(log, (e) => e.startsWith('pool')));
  });
});

describe('the smoke budget', () => {
  afterEach(() => void vi.useRealTimers());

  it('does not count the time spent waiting for the check', async () => {
    vi.useFakeTimers();
    const budget = smokeBudget(1000);
    await vi.advanceTimersByTimeAsync(600);
    await budget.outside(() => vi.advanceTimersByTimeAsync(5000));
    expect(budget.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(399);
    expect(budget.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(budget.signal.aborted).toBe(true);
    budget.clear();
  });
});
