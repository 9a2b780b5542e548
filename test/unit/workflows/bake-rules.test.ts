// The bake's arithmetic without any server: deltas against the window's start, counter resets after
// an LB reload, and the verdict with the numbers it names.
import { describe, expect, it } from 'vitest';
import type { ServerCounters } from '../../../src/ports/lb';
import { parsePlan, validatePlan } from '../../../src/plan/validate';
import { advance, bakeSummary, isDown, judge, openWindow, percent } from '../../../src/workflows/bake-rules';
import type { BakeRecord } from '../../../src/workflows/state';
import { FakeFleet } from '../../support/fake-fleet';

const c = (server: string, responses: number, r5xx: number, more: Partial<ServerCounters> = {}): ServerCounters => ({
  server,
  status: 'UP',
  checkStatus: 'L7OK',
  responses,
  r5xx,
  errors: 0,
  rtimeMs: 3,
  ...more,
});
const thresholds = { max5xxRatio: 0.01, minRequests: 100, anyServerDown: true };

describe('bake deltas', () => {
  it('counts only what happened since the window opened', () => {
    const w = openWindow([c('blue-1', 5000, 40), c('blue-2', 7000, 0)]);
    const f = advance(w, [c('blue-1', 5812, 100), c('blue-2', 7300, 1)]);
    expect(f.map((x) => [x.server, x.responses, x.r5xx])).toEqual([
      ['blue-1', 812, 60],
      ['blue-2', 300, 1],
    ]);
    expect(f[0]!.ratio5xx).toBeCloseTo(60 / 812);
  });

  it('carries the counts of before an LB reload when the counters start again from 0, never negative', () => {
    const w = openWindow([c('blue-1', 5000, 40)]);
    advance(w, [c('blue-1', 5300, 43)]); // 300 responses, 3 5xx in the window so far
    const afterReload = advance(w, [c('blue-1', 50, 2)]); // HAProxy reloaded: counters from 0
    expect(afterReload[0]).toMatchObject({ responses: 350, r5xx: 5, resets: 1 });
    expect(afterReload[0]!.ratio5xx).toBeCloseTo(5 / 350);
    const later = advance(w, [c('blue-1', 150, 2)]);
    expect(later[0]).toMatchObject({ responses: 450, r5xx: 5, resets: 1 });
  });

  it('a reset seen on one counter only (5xx back to 0) is a reset for all, and no figure goes below 0', () => {
    const w = openWindow([c('a', 100, 10)]);
    const f = advance(w, [c('a', 120, 0)]);
    expect(f[0]).toMatchObject({ responses: 120, r5xx: 0, resets: 1 });
    expect(f[0]!.ratio5xx).toBe(0);
  });

  it('no response yet is a ratio of 0, not NaN', () => {
    const f = advance(openWindow([c('a', 10, 1)]), [c('a', 10, 1)]);
    expect(f[0]).toMatchObject({ responses: 0, r5xx: 0, ratio5xx: 0 });
  });
});

describe('bake verdict', () => {
  it('names the server, the ratio, the responses, the window and the limit', () => {
    const f = advance(openWindow([c('blue-3', 0, 0)]), [c('blue-3', 812, 60)]);
    expect(judge('blue', f, thresholds, 30).breach).toBe('blue-3: 5xx 7.4% of 812 responses in 30 s, limit 1%');
  });

  it('does not judge the ratio before minRequests responses, and says so', () => {
    const f = advance(openWindow([c('a', 0, 0)]), [c('a', 99, 99)]);
    const v = judge('green', f, thresholds, 2);
    expect(v.breach).toBeUndefined();
    expect(v.note).toMatch(/99 responses, fewer than minRequests \(100\)/);
  });

  it('decides as soon as minRequests is reached', () => {
    const f = advance(openWindow([c('a', 0, 0)]), [c('a', 100, 2)]);
    expect(judge('green', f, thresholds, 1).breach).toBe('a: 5xx 2% of 100 responses in 1 s, limit 1%');
  });

  it('a ratio at the limit passes; just above it breaches', () => {
    const at = advance(openWindow([c('a', 0, 0)]), [c('a', 1000, 10)]);
    expect(judge('green', at, thresholds, 5)).toEqual({});
    const above = advance(openWindow([c('a', 0, 0)]), [c('a', 1000, 11)]);
    expect(judge('green', above, thresholds, 5).breach).toMatch(/^a: 5xx 1.1% of 1000/);
  });

  it('judges the cluster as a whole when each server alone has too few responses', () => {
    const w = openWindow(['a', 'b', 'c'].map((s) => c(s, 0, 0)));
    const f = advance(w, [c('a', 40, 4), c('b', 40, 4), c('c', 40, 4)]);
    expect(judge('green', f, thresholds, 10).breach).toBe('cluster green: 5xx 10% of 120 responses in 10 s, limit 1%');
  });

  it('a server DOWN breaches at once, before any response, when anyServerDown is on', () => {
    const f = advance(openWindow([c('a', 0, 0)]), [c('a', 0, 0, { status: 'DOWN', checkStatus: 'L7STS' })]);
    expect(judge('green', f, thresholds, 1).breach).toBe('a: DOWN in the live pool (last check L7STS) after 1 s of the bake');
    expect(judge('green', f, { ...thresholds, anyServerDown: false }, 1).breach).toBeUndefined();
  });

  it('the response time breaches only with enough responses to mean something', () => {
    const t = { ...thresholds, maxResponseMs: 200 };
    const few = advance(openWindow([c('a', 0, 0)]), [c('a', 50, 0, { rtimeMs: 900 })]);
    expect(judge('green', few, t, 3).breach).toBeUndefined();
    const many = advance(openWindow([c('a', 0, 0)]), [c('a', 500, 0, { rtimeMs: 900 })]);
    expect(judge('green', many, t, 3).breach).toBe(
      'a: average response time 900 ms (its last 1024 requests) after 500 responses in 3 s, limit 200 ms',
    );
  });

  it('reads HAProxy statuses: DOWN, DOWN 1/2, MAINT and NOLB serve nobody; UP 1/2 still does', () => {
    expect(['DOWN', 'DOWN 1/2', 'MAINT', 'MAINT (via live/x)', 'NOLB'].every(isDown)).toBe(true);
    expect(['UP', 'UP 1/2', 'DRAIN', 'no check'].some(isDown)).toBe(false);
  });

  it("the run's final reason names the baked clusters, and says when a bake passed without judging", () => {
    const rec = (cluster: string, note?: string): BakeRecord => ({
      cluster,
      seconds: 30,
      sampleSeconds: 1,
      thresholds,
      startedAt: '',
      samples: 30,
      outcome: 'passed',
      servers: [],
      ...(note ? { note } : {}),
    });
    expect(bakeSummary(undefined)).toBe('');
    expect(bakeSummary([rec('green'), rec('blue')])).toBe('; baked green, blue for 30 s each');
    expect(bakeSummary([rec('green'), rec('blue', '12 responses, fewer than minRequests (100): the 5xx ratio is not judged')])).toBe(
      '; baked green, blue for 30 s each (not judged: blue had 12 responses, fewer than minRequests (100): the 5xx ratio is not judged)',
    );
  });

  it('formats ratios without rounding small limits to zero', () => {
    expect([0, 0.01, 0.074, 0.2, 0.005, 0.0005, 0.125].map(percent)).toEqual(['0%', '1%', '7.4%', '20%', '0.5%', '0.05%', '12.5%']);
  });
});

describe('bake in the plan', () => {
  it('samples once a second by default for short windows, and at most 40 times for long ones', () => {
    const plan = new FakeFleet(['green-1', 'blue-1'], 'v1').plan();
    const short = parsePlan({ ...plan, bake: { seconds: 30, thresholds: { max5xxRatio: 0.01, minRequests: 50 } } });
    expect(short.bake).toEqual({ seconds: 30, sampleSeconds: 1, thresholds: { max5xxRatio: 0.01, minRequests: 50, anyServerDown: true } });
    const long = parsePlan({ ...plan, bake: { seconds: 1800, thresholds: { max5xxRatio: 0.01, minRequests: 50 } } });
    expect(long.bake?.sampleSeconds).toBe(45);
    // A parsed plan parses to itself (the workflow validates it again).
    expect(parsePlan(long)).toEqual(long);
  });

  it('bounds the samples by the servers they read: 500 servers allow 40 per window, and the default fits', () => {
    const fleet = new FakeFleet(Array.from({ length: 500 }, (_, i) => `green-${i}`).concat('blue-1'), 'v1');
    const bake = { seconds: 600, sampleSeconds: 5, thresholds: { max5xxRatio: 0.01, minRequests: 50 } };
    const v = validatePlan({ ...fleet.plan(), bake });
    expect(v.ok ? [] : v.issues).toEqual([
      {
        path: 'plan.bake.sampleSeconds',
        expected:
          "at least 15 for a 600 s bake (at most 40 samples per window keep the run's history bounded: each reads all 500 servers of the largest cluster, and 20000 server readings per window is the limit)",
        found: '5',
      },
    ]);
    const byDefault = parsePlan({ ...fleet.plan(), bake: { ...bake, sampleSeconds: undefined } });
    expect(byDefault.bake?.sampleSeconds).toBe(15);
  });

  it('refuses a bake behind nginx, which counts no responses per server', () => {
    const plan = new FakeFleet(['green-1', 'blue-1'], 'v1').plan();
    const loadBalancer = {
      type: 'nginx',
      ssh: { host: '127.0.0.1', port: 2222, user: 'deploy' },
      liveUpstreamFile: '/etc/nginx/live.conf',
      standbyUpstreamFile: '/etc/nginx/standby.conf',
      servers: { 'green-1': '127.0.0.1:8001', 'blue-1': '127.0.0.1:8002' },
      standbyUrl: 'http://127.0.0.1:8081',
    };
    expect(validatePlan({ ...plan, loadBalancer }).ok).toBe(true);
    const v = validatePlan({ ...plan, loadBalancer, bake: { seconds: 30, thresholds: { max5xxRatio: 0.01, minRequests: 50 } } });
    expect(v.ok ? [] : v.issues).toEqual([
      {
        path: 'plan.bake',
        expected:
          'no bake with loadBalancer.type "nginx": the bake reads HAProxy\'s per-server counters, which this load balancer does not offer',
        found: 'an object with fields seconds, thresholds',
      },
    ]);
  });
});
