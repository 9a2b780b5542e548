// Waits poll fast first and slow down to the configured pace: a host that is healthy a moment after
// its restart is seen at once, whatever the plan's interval; a long wait polls at the plan's pace.
import { describe, expect, it } from 'vitest';
import { waitUntilHealthy } from '../../../src/activities/health';
import type { CheckResult } from '../../../src/ports/http';
import { pollDelay, pollSchedule } from '../../../src/sleep';

describe('pollDelay', () => {
  it('starts at the first delay, doubles, and never exceeds the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => pollDelay(n, 250))).toEqual([25, 50, 100, 200, 250, 250, 250]);
    expect([0, 1, 2].map((n) => pollDelay(n, 1000, 50))).toEqual([50, 100, 200]);
    expect(pollDelay(1000, 60_000)).toBe(60_000);
  });

  it('a cap below the first delay wins', () => {
    expect(pollDelay(0, 10, 50)).toBe(10);
  });
});

describe('pollSchedule', () => {
  it('polls every 25 ms for the first second of a wait, then from 50 ms doubling up to the cap', () => {
    let t = 0;
    const next = pollSchedule(400, () => t);
    const fast: number[] = [];
    while (t < 1000) {
      const d = next();
      fast.push(d);
      t += d;
    }
    expect(fast).toHaveLength(40);
    expect(new Set(fast)).toEqual(new Set([25]));
    expect([next(), next(), next(), next(), next()]).toEqual([50, 100, 200, 400, 400]);
  });

  it('never polls faster than asked: a cap below 25 ms wins from the start', () => {
    const next = pollSchedule(10, () => 0);
    expect(next()).toBe(10);
  });
});

describe('waitUntilHealthy pace', () => {
  it('finds a host healthy at its fourth check long before one plan interval (60 s) has passed', async () => {
    let calls = 0;
    const check = async (): Promise<CheckResult> => {
      calls++;
      const ok = calls >= 4;
      return { ok, status: ok ? 200 : 503, release: 'v2', host: 'h', reason: ok ? '' : 'starting', ms: 0 };
    };
    // With a fixed 60 s interval the second check would come after the 5 s deadline: a failure.
    const r = await waitUntilHealthy('http://h/health', { release: 'v2', deadlineMs: 5000, intervalMs: 60_000, check });
    expect(r.attempts).toBe(4);
  });
});
