// The same promise behind nginx: the lab with `--lb nginx` (Debian's nginx, its upstream files
// edited over SSH on an LB host of its own), a real Temporal server, 180 requests/s. A full
// deployment, then the failure cases of the HAProxy suite that involve the LB. The live pool is
// sampled from the live upstream file every 100 ms; the load proves it served every request.
import { beforeEach, describe, expect, it } from 'vitest';
import { hostCurrentRelease, hostRestarts, readUpstream, startLbSshdAgain, stopLbSshd } from '../../../src/lab';
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
  type CaseRun,
  type LbSample,
} from '../../support/fault-cases';
import { sleep, waitForStatus } from '../../support/wait';

const temporal = useTemporal();
const t = useTestLab(14, 2, { lb: 'nginx' });
beforeEach(async () => {
  await resetFleet(t, 'v1');
});

const releasesServed = (c: CaseRun) => new Set(c.load.releasesPerSecond.flatMap((s) => Object.keys(s.releases)));

async function activityEvents(c: CaseRun) {
  const events = (await c.handle.fetchHistory()).events ?? [];
  return {
    timedOut: events.filter((e) => e.activityTaskTimedOutEventAttributes),
    maxAttempt: Math.max(0, ...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0)),
  };
}

describe('behind nginx', () => {
  it('deploys v1 -> v2 under load: 0 failed requests, 0 lost writes, the live upstream file never without a ready server', async () => {
    const c = await runCase(temporal, t, { plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }) });
    logCase('nginx v1 -> v2', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    expect(c.load.writesAcknowledged).toBeGreaterThan(50);
    for (const h of t.lab.hosts) expect(hostRestarts(h.name, t.lab.dir).filter((r) => r.release === 'v2')).toHaveLength(1);
    // Both clusters left the live pool in turn (the file says so), and users saw v2 at the end.
    const out = (hs: string[]) => c.sampler.samples.some((s) => hs.every((h) => !upInLive(s, h)));
    expect(out(['green-1', 'green-2']) && out(['blue-1', 'blue-2'])).toBe(true);
    expect(Object.keys(c.load.releasesPerSecond.at(-1)?.releases ?? {})).toEqual(['v2']);
    await expectFleet(t, 'v2');
  });

  it('bad-health: never live, green back on v1 and live; the reason names the host and its health check', async () => {
    const c = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'bad-health', currentRelease: 'v1', health: { path: '/health', timeoutSeconds: 8, intervalMs: 500 } }),
    });
    logCase('nginx bad-health', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(
      /^deploy of green failed on green-[12]: green-[12] did not become healthy on bad-health within 8 s .*Rolled back: green runs v1 and is live again$/,
    );
    expect(releasesServed(c).has('bad-health')).toBe(false);
    await expectFleet(t, 'v1');
  });

  it('bad-smoke: the smoke test through the standby upstream fails; never promoted, rolled back', async () => {
    const c = await runCase(temporal, t, { plan: fastPlan(t, { release: 'bad-smoke', currentRelease: 'v1' }) });
    logCase('nginx bad-smoke', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(
      /^verify of green failed: smoke test GET \/smoke through the standby pool failed on green-[12]: .*Rolled back: green runs v1 and is live again$/,
    );
    expect(c.result?.steps.some((s) => s.step === 'live')).toBe(false);
    expect(releasesServed(c).has('bad-smoke')).toBe(false);
    await expectFleet(t, 'v1');
  });

  it('the second cluster fails after the first went live: blue back first, then green, never both out of the live file', async () => {
    plantBrokenRelease(t, 'blue-1', 'v2');
    const c = await runCase(temporal, t, { plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }) });
    logCase('nginx second cluster fails', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(/^deploy of blue failed on blue-1: .*Rolled back: blue, then green run v1 and are live again$/);
    const s = c.sampler.samples;
    const green = ['green-1', 'green-2'];
    const blue = ['blue-1', 'blue-2'];
    const allUp = (x: LbSample, hs: string[]) => hs.every((h) => upInLive(x, h));
    const blueOut = s.findIndex((x) => blue.every((h) => !upInLive(x, h)));
    const blueBack = s.findIndex((x, i) => i > blueOut && allUp(x, blue));
    const greenLeaves = s.findIndex((x, i) => i > blueOut && !allUp(x, green));
    expect(blueOut).toBeGreaterThan(0);
    expect(blueBack).toBeGreaterThan(blueOut);
    expect(greenLeaves).toBeGreaterThan(blueBack);
    const both = s.filter((x) => green.some((h) => !upInLive(x, h)) && blue.some((h) => !upInLive(x, h)));
    expect(both.map((x) => x.live)).toEqual([]);
    expect(Object.keys(c.load.releasesPerSecond.at(-1)?.releases ?? {})).toEqual(['v1']);
    await expectFleet(t, 'v1');
  });

  it('the LB host unreachable over SSH for a few seconds: the LB calls are retried and the deployment succeeds', async () => {
    const c = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }),
      during: async (h) => {
        await waitForStatus(h, 'deploy of green', (s) => s.step === 'deploy' && s.cluster === 'green');
        await stopLbSshd(t.lab.dir);
        await sleep(4000);
        await startLbSshdAgain(t.lab.dir);
      },
    });
    logCase('nginx LB host away for 4 s', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    const { timedOut, maxAttempt } = await activityEvents(c);
    expect(timedOut).toEqual([]);
    expect(maxAttempt).toBeGreaterThan(1);
    await expectFleet(t, 'v2');
  });

  it('the LB host gone for good: the run stops with green out of the live pool and says what it left', async () => {
    const c = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }),
      during: async (h) => {
        await waitForStatus(h, 'deploy of green', (s) => s.step === 'deploy' && s.cluster === 'green');
        await stopLbSshd(t.lab.dir);
      },
    });
    logCase('nginx LB host gone', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('failed');
    expect(c.reason).toMatch(
      /^verify of green failed: load balancer API at nginx on \S+ unavailable: SSH_REFUSED .* \(gave up after 4 attempts\)\. /,
    );
    expect(c.reason).toMatch(
      /State left \(pools as last known: the load balancer could not be read\): green-1 v2, standby pool only; green-2 v2, standby pool only; blue-1 v1, live pool; blue-2 v1, live pool\. Users are served by blue-1, blue-2; green is kept out of the live pool\./,
    );
    expect(readUpstream(t.lab.dir, 'live')).toEqual({ 'green-1': 'maint', 'green-2': 'maint', 'blue-1': 'ready', 'blue-2': 'ready' });
    for (const h of ['green-1', 'green-2']) expect(hostCurrentRelease(h, t.lab.dir)).toBe('v2');
  });
});
