// Failures of the release itself, on the real lab under load: bad-health, bad-smoke, the second
// cluster failing after the first went live, a failure after the migration, and slow-start.
import { beforeEach, describe, expect, it } from 'vitest';
import { hostCurrentRelease } from '../../../src/lab';
import { useTemporal } from '../../support/temporal';
import { useTestLab } from '../../support/test-lab';
import {
  expectFleet,
  expectUsersUnharmed,
  fastPlan,
  logCase,
  plantBrokenRelease,
  resetFleet,
  runCase,
  upInLive,
  type LbSample,
} from '../../support/fault-cases';

const temporal = useTemporal();
const t = useTestLab(10);
beforeEach(async () => {
  await resetFleet(t, 'v1');
});

const releasesServed = (c: { load: { releasesPerSecond: { releases: Record<string, number> }[] } }) =>
  new Set(c.load.releasesPerSecond.flatMap((s) => Object.keys(s.releases)));

describe('the release fails in the first cluster (steps 1-3): users never see it', () => {
  it('bad-health: green goes back to v1 and live; rolled back, naming the host and the health check', async () => {
    const plan = fastPlan(t, {
      release: 'bad-health',
      currentRelease: 'v1',
      health: { path: '/health', timeoutSeconds: 8, intervalMs: 500 },
    });
    const c = await runCase(temporal, t, { plan });
    logCase('bad-health', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.error?.cause?.name).toBe('ApplicationFailure');
    expect(c.reason).toMatch(
      /^deploy of green failed on green-[12]: green-[12] did not become healthy on bad-health within 8 s \(\d+ checks of http:\/\/127\.0\.0\.1:\d+\/health\); last: .*503/,
    );
    expect(c.reason).toMatch(/Rolled back: green runs v1 and is live again$/);
    expect(c.status.failure).toMatchObject({ kind: 'failure', step: 'deploy', cluster: 'green', host: expect.stringMatching(/^green-/) });
    expect(c.status.rollback?.clusters).toEqual([
      expect.objectContaining({
        cluster: 'green',
        outcome: 'rolled-back',
        actions: expect.arrayContaining([expect.stringMatching(/installed v1 on green-1, green-2/)]),
      }),
    ]);
    // Where it failed stays visible on the host after the rollback.
    expect(c.status.clusters[0]?.hosts.find((h) => h.name === c.status.failure?.host)?.lastError).toMatch(/did not become healthy/);
    expect(releasesServed(c).has('bad-health')).toBe(false);
    expect(c.result?.steps.map((s) => `${s.step}:${s.cluster ?? ''}`)).toEqual([
      'preflight:',
      'standby:green',
      'deploy:green',
      'rollback:green',
    ]);
    await expectFleet(t, 'v1');
  });

  it('bad-smoke: healthy but the smoke test through the standby pool fails; never promoted, rolled back', async () => {
    const c = await runCase(temporal, t, { plan: fastPlan(t, { release: 'bad-smoke', currentRelease: 'v1' }) });
    logCase('bad-smoke', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(/^verify of green failed: smoke test GET \/smoke through the standby pool failed on green-[12]: /);
    expect(c.reason).toMatch(/Rolled back: green runs v1 and is live again$/);
    expect(c.status.failure).toMatchObject({ kind: 'failure', step: 'verify', cluster: 'green' });
    expect(c.result?.steps.some((s) => s.step === 'live')).toBe(false);
    expect(releasesServed(c).has('bad-smoke')).toBe(false);
    await expectFleet(t, 'v1');
  });
});

describe('the second cluster fails after the first went live', () => {
  it('blue comes back on v1 first, then green is moved back, one cluster at a time, never both out', async () => {
    plantBrokenRelease(t, 'blue-1', 'v2'); // v2 is broken on blue-1 only
    const c = await runCase(temporal, t, { plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }) });
    logCase('second cluster fails', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(/^deploy of blue failed on blue-1: blue-1 did not become healthy on v2 within 12 s/);
    expect(c.reason).toMatch(/Rolled back: blue, then green run v1 and are live again$/);
    expect(c.status.rollback?.clusters.map((r) => `${r.cluster}:${r.outcome}`)).toEqual(['blue:rolled-back', 'green:rolled-back']);
    expect(c.result?.steps.map((s) => `${s.step}:${s.cluster ?? ''}`)).toEqual([
      'preflight:',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
      'standby:blue',
      'deploy:blue',
      'rollback:blue',
      'rollback:green',
    ]);
    // Users did see v2 from green (it was live), and v1 only at the end.
    expect(releasesServed(c).has('v2')).toBe(true);
    expect(Object.keys(c.load.releasesPerSecond.at(-1)?.releases ?? {})).toEqual(['v1']);

    // Ordering, from the LB samples.
    const s = c.sampler.samples;
    const green = ['green-1', 'green-2'];
    const blue = ['blue-1', 'blue-2'];
    const allUp = (x: LbSample, hs: string[]) => hs.every((h) => upInLive(x, h));
    const noneUp = (x: LbSample, hs: string[]) => hs.every((h) => !upInLive(x, h));
    const blueOut = s.findIndex((x) => noneUp(x, blue)); // blue drained (forward step 1)
    expect(blueOut).toBeGreaterThan(0);
    const blueBack = s.findIndex((x, i) => i > blueOut && allUp(x, blue)); // blue restored on v1
    const greenLeaves = s.findIndex((x, i) => i > blueOut && !allUp(x, green)); // green moved back
    expect(blueBack).toBeGreaterThan(blueOut);
    // At the earliest in the sample that shows blue back: a fast rollback can do both between two samples.
    expect(greenLeaves).toBeGreaterThanOrEqual(blueBack);
    expect(allUp(s.at(-1)!, [...green, ...blue])).toBe(true);
    // One cluster at a time: never a green and a blue host out of the live pool together.
    const both = s.filter((x) => green.some((h) => !upInLive(x, h)) && blue.some((h) => !upInLive(x, h)));
    expect(both.map((x) => x.live)).toEqual([]);
    await expectFleet(t, 'v1');
  });
});

describe('after the migration', () => {
  it('a migration that fails after applying is not rolled back; the run says the schema changed and what to do', async () => {
    const plan = fastPlan(t, { release: 'v2', currentRelease: 'v1' });
    plan.commands = { ...plan.commands, migrate: `${t.lab.hostScript} migrate; exit 7` };
    const c = await runCase(temporal, t, { plan });
    logCase('migration fails', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('failed');
    expect(c.result?.migrated).toBe(true);
    expect(c.reason).toMatch(/^migrate failed: blue-1: "migrate" exited with code 7; output: (migrated to|already at) schema version 2/);
    expect(c.reason).toMatch(/the schema may have changed: nothing was rolled back/);
    expect(c.reason).toMatch(/Every cluster runs v2 and is live\. Check the migration's output, then re-run it/);
    expect(c.status.failure).toMatchObject({ kind: 'failure', step: 'migrate' });
    expect(c.status.rollback).toBeUndefined();
    expect(c.result?.steps.some((s) => s.step === 'rollback')).toBe(false);
    await expectFleet(t, 'v2');
  });
});

describe('slow-start', () => {
  it('waits for health within its deadline and succeeds', async () => {
    const c = await runCase(temporal, t, { plan: fastPlan(t, { release: 'slow-start', currentRelease: 'v1' }) });
    logCase('slow-start', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    // The app answers 503 for ~6 s after it starts: the deploy step waited for it, twice.
    const deploys = c.result!.steps.filter((s) => s.step === 'deploy');
    expect(deploys).toHaveLength(2);
    for (const d of deploys) expect(d.ms).toBeGreaterThan(5000);
    for (const h of t.lab.hosts) expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('slow-start');
    await expectFleet(t, 'slow-start');
  });

  it('checked at most every 20 s, longer than any heartbeat timeout: no heartbeat timeout, no retried attempt, succeeds', async () => {
    // Heartbeats are on a timer, independent of the plan's check interval. Checks start 50 ms apart
    // and slow down towards the plan's 20 s, so the app, healthy about 6 s after it starts, is found
    // then and not a whole interval later.
    const c = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'slow-start', currentRelease: 'v1', health: { timeoutSeconds: 90, intervalMs: 20_000 } }),
    });
    logCase('slow-start, 20 s checks', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    const events = (await c.handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskTimedOutEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.activityTaskFailedEventAttributes)).toEqual([]);
    expect(new Set(events.map((e) => e.activityTaskStartedEventAttributes?.attempt).filter((a) => a !== undefined && a !== null))).toEqual(
      new Set([1]),
    );
    for (const d of c.result!.steps.filter((s) => s.step === 'deploy')) expect(d.ms).toBeGreaterThan(5000);
    await expectFleet(t, 'slow-start');
  });
});
