// Operator decisions on the real lab under load: gates rejected or expiring, abort during each
// step and at a gate, pause/resume, and `temporal workflow cancel`.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/client';
import type { Activities } from '../../../src/activities';
import { beforeEach, describe, expect, it } from 'vitest';
import { hostRestarts } from '../../../src/lab';
import type { PlanInput } from '../../../src/plan/schema';
import { abortSignal, approveSignal, pauseSignal, rejectSignal, resumeSignal } from '../../../src/workflows/messages';
import type { StepName } from '../../../src/workflows/state';
import { useTemporal } from '../../support/temporal';
import { useTestLab } from '../../support/test-lab';
import { expectFleet, expectUsersUnharmed, fastPlan, logCase, resetFleet, runCase } from '../../support/fault-cases';
import { sleep, waitForStatus } from '../../support/wait';

const temporal = useTemporal();
const t = useTestLab(11);
beforeEach(async () => {
  await resetFleet(t, 'v1');
});

const withGate = (gate: Partial<{ timeoutSeconds: number; onTimeout: 'reject' | 'wait' }> = {}): PlanInput =>
  fastPlan(t, {
    release: 'v2',
    currentRelease: 'v1',
    gates: {
      promote: { enabled: true, timeoutSeconds: gate.timeoutSeconds ?? 600, onTimeout: gate.onTimeout ?? 'reject' },
      migrate: { enabled: false, timeoutSeconds: 600, onTimeout: 'reject' },
    },
  });

/**
 * The real activities, except that the abort is signalled from inside the step's first green
 * activity, just before it returns: the signal is in history while that step is in flight, however
 * short the step is on this machine (polling the status could miss a 100 ms standby step).
 */
function abortDuring(step: StepName): Activities {
  const a = t.activities;
  let sent = false;
  const abortOnce = async (applies: boolean) => {
    if (sent || !applies) return;
    sent = true;
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
    await temporal.client.workflow.getHandle(workflowId).signal(abortSignal, { by: 'carol', reason: 'wrong build' });
  };
  const green = (servers: string[]) => servers.includes('green-1');
  return {
    ...a,
    drainFromLive: async (i) => (await a.drainFromLive(i), await abortOnce(step === 'standby' && green(i.servers))),
    deployHosts: async (i) => {
      // Signalled while the cluster's deploy activity is still in flight, so the abort stops it.
      await abortOnce(step === 'deploy' && i.cluster === 'green');
      return a.deployHosts(i);
    },
    smokeTest: async (i) => {
      const r = await a.smokeTest(i);
      await abortOnce(step === 'verify' && green(i.hosts));
      return r;
    },
    enterPool: async (i) => (await a.enterPool(i), await abortOnce(step === 'live' && i.pool === 'live' && green(i.servers))),
  };
}

const forward = (steps: { step: string; cluster?: string }[] | undefined) => (steps ?? []).map((s) => `${s.step}:${s.cluster ?? ''}`);

describe('gates', () => {
  it('a rejected promote gate rolls green back; the reason names the gate, who and why', async () => {
    const c = await runCase(temporal, t, {
      plan: withGate(),
      during: async (h) => {
        await waitForStatus(h, 'gate promote-green', (s) => s.pendingGate?.gate === 'promote-green');
        await h.signal(rejectSignal, { gate: 'promote-green', release: 'v2', by: 'alice', reason: 'error rate looks off' });
      },
    });
    logCase('gate rejected', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toBe(
      'gate promote-green rejected by alice: error rate looks off (during verify of green). Rolled back: green runs v1 and is live again',
    );
    expect(c.status.failure).toMatchObject({ kind: 'gate', step: 'verify', cluster: 'green' });
    expect(c.status.decisions).toEqual([expect.objectContaining({ kind: 'reject', gate: 'promote-green', by: 'alice' })]);
    await expectFleet(t, 'v1');
  });

  it('a gate that expires with onTimeout "reject" rolls back, saying it expired', async () => {
    const c = await runCase(temporal, t, { plan: withGate({ timeoutSeconds: 2, onTimeout: 'reject' }) });
    logCase('gate expired (reject)', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(
      /^gate promote-green expired after 2 s without a decision \(onTimeout: reject\) \(during verify of green\)\. Rolled back/,
    );
    expect(c.status.decisions).toEqual([expect.objectContaining({ kind: 'reject', gate: 'promote-green', by: 'timeout' })]);
    await expectFleet(t, 'v1');
  });

  it('a gate that expires with onTimeout "wait" keeps waiting; approved later, the run succeeds', async () => {
    const c = await runCase(temporal, t, {
      plan: withGate({ timeoutSeconds: 2, onTimeout: 'wait' }),
      during: async (h) => {
        const s0 = await waitForStatus(h, 'gate promote-green', (s) => s.pendingGate?.gate === 'promote-green');
        await sleep(5000); // two and a half timeouts
        const s1 = await waitForStatus(h, 'any status', () => true);
        // The same gate, pending since the same moment; only its next expiry moved on.
        expect({ ...s1.pendingGate, deadline: undefined }).toEqual({ ...s0.pendingGate, deadline: undefined });
        expect(Date.parse(s1.pendingGate!.deadline)).toBeGreaterThan(Date.parse(s0.pendingGate!.deadline));
        expect(s1.steps.length).toBe(s0.steps.length);
        await h.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'bob' });
        await waitForStatus(h, 'gate promote-blue', (s) => s.pendingGate?.gate === 'promote-blue');
        await h.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'bob' });
      },
    });
    logCase('gate expired (wait)', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    await expectFleet(t, 'v2');
  });
});

describe('abort: stops at the next safe point and rolls back', () => {
  const cases: { during: StepName | 'gate'; lastForward: string; installed: boolean }[] = [
    { during: 'standby', lastForward: 'standby:green', installed: false },
    { during: 'deploy', lastForward: 'deploy:green', installed: true },
    { during: 'verify', lastForward: 'verify:green', installed: true },
    { during: 'live', lastForward: 'live:green', installed: true },
    { during: 'gate', lastForward: 'verify:green', installed: true },
  ];
  for (const k of cases) {
    it(`during ${k.during === 'gate' ? 'the promote gate' : `the ${k.during} step`} of green`, async () => {
      const restartsBefore = hostRestarts('green-1', t.lab.dir).length;
      const c = await runCase(temporal, t, {
        plan: k.during === 'gate' ? withGate() : fastPlan(t, { release: 'v2', currentRelease: 'v1' }),
        activities: k.during === 'gate' ? undefined : abortDuring(k.during),
        during: async (h) => {
          if (k.during !== 'gate') return;
          await waitForStatus(h, 'gate promote-green', (s) => s.pendingGate?.gate === 'promote-green');
          await h.signal(abortSignal, { by: 'carol', reason: 'wrong build' });
        },
      });
      logCase(`abort during ${k.during}`, c);
      expectUsersUnharmed(c);
      expect(c.outcome).toBe('rolled-back');
      const where = k.during === 'gate' ? 'verify of green' : `${k.during} of green`;
      expect(c.reason).toMatch(
        new RegExp(`^aborted by carol: wrong build \\(during ${where}\\)\\. Rolled back: green runs v1 and is live again$`),
      );
      expect(c.status.failure).toMatchObject({ kind: 'abort' });
      // The step in flight finished; nothing after it started; then the rollback.
      expect(forward(c.result?.steps)).toEqual([
        ...['preflight:', 'standby:green', 'deploy:green', 'verify:green', 'live:green'].slice(
          0,
          ['preflight:', 'standby:green', 'deploy:green', 'verify:green', 'live:green'].indexOf(k.lastForward) + 1,
        ),
        'rollback:green',
      ]);
      expect(c.status.decisions).toEqual([expect.objectContaining({ kind: 'abort', by: 'carol', reason: 'wrong build' })]);
      // Nothing installed: the rollback only put the pools back; else v2 came off again (2 restarts).
      expect(hostRestarts('green-1', t.lab.dir).length - restartsBefore).toBe(k.installed ? 2 : 0);
      await expectFleet(t, 'v1');
    });
  }
});

describe('pause and resume', () => {
  it('pauses between steps: nothing changes while paused; resumed, the run succeeds', async () => {
    let pausedSamples: [number, number] = [0, 0];
    const c = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }),
      during: async (h) => {
        await waitForStatus(h, 'deploy of green', (s) => s.step === 'deploy' && s.cluster === 'green');
        await h.signal(pauseSignal, { by: 'dave', reason: 'lunch' });
        const s0 = await waitForStatus(h, 'the pause', (s) => s.waitingFor === 'resume');
        const restarts0 = t.lab.hosts.map((x) => hostRestarts(x.name, t.lab.dir).length);
        await sleep(1500); // let HAProxy's checks settle on the hosts the paused step restarted
        const from = Date.now();
        await sleep(4000);
        const s1 = await waitForStatus(h, 'any status', () => true);
        pausedSamples = [from, Date.now()];
        expect(s1.steps).toEqual(s0.steps);
        expect(s1.clusters).toEqual(s0.clusters);
        expect(s1.step).toBe('deploy');
        expect(t.lab.hosts.map((x) => hostRestarts(x.name, t.lab.dir).length)).toEqual(restarts0);
        await h.signal(resumeSignal, { by: 'dave' });
      },
    });
    logCase('pause/resume', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    // The LB did not change during the pause either.
    const during = c.sampler.samples.filter((s) => s.at >= pausedSamples[0] && s.at <= pausedSamples[1]);
    expect(during.length).toBeGreaterThan(20);
    // The live pool exactly; the standby pool as in or out (its checks keep running on restarted hosts).
    const shape = (s: (typeof during)[number]) =>
      JSON.stringify({ live: s.live, standby: Object.fromEntries(Object.entries(s.standby).map(([k, v]) => [k, v === 'MAINT'])) });
    expect(new Set(during.map(shape)).size).toBe(1);
    expect(c.status.decisions.map((d) => `${d.kind}:${d.by}`)).toEqual(['pause:dave', 'resume:dave']);
    await expectFleet(t, 'v2');
  });
});

describe('temporal workflow cancel', () => {
  it('cancelled mid-deploy: the rollback still runs and the run ends cancelled', async () => {
    const c = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }),
      during: async (h) => {
        await waitForStatus(
          h,
          'an install on green',
          (s) => s.step === 'deploy' && s.cluster === 'green' && s.clusters[0]!.hosts.some((x) => x.phase === 'installing'),
        );
        await h.cancel();
      },
    });
    logCase('cancel', c);
    expectUsersUnharmed(c);
    expect(c.error?.cause).toBeInstanceOf(CancelledFailure);
    expect((await c.handle.describe()).status.name).toBe('CANCELLED');
    expect(c.status.cancelled).toBe(true);
    expect(c.status.outcome).toBe('rolled-back');
    expect(c.status.reason).toBe('the run was cancelled during deploy of green. Rolled back: green runs v1 and is live again');
    expect(c.status.rollback?.clusters).toEqual([expect.objectContaining({ cluster: 'green', outcome: 'rolled-back' })]);
    await expectFleet(t, 'v1');
  });
});
