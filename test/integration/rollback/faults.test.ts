// Broken infrastructure on the real lab under load: a host unreachable (sshd stopped) or frozen
// (SIGSTOP) during the deploy, and the LB's Runtime API away for a while or for good.
import { beforeEach, describe, expect, it } from 'vitest';
import { freezeHost, hideHaproxyApi, restoreHaproxyApi, startSshdAgain, stopSshd, thawHost } from '../../../src/lab';
import { useTemporal } from '../../support/temporal';
import { useTestLab } from '../../support/test-lab';
import {
  faultAfterGreenDrained,
  useActivitiesWithSsh,
  expectFleet,
  expectUsersUnharmed,
  fastPlan,
  logCase,
  resetFleet,
  runCase,
  type CaseRun,
} from '../../support/fault-cases';
import { sleep, waitForStatus } from '../../support/wait';

// The worker's SSH handshake timeout is 15 s; 4 s here keeps the frozen-host case short.
const CONNECT_TIMEOUT_MS = 4000;

const temporal = useTemporal();
const t = useTestLab(12);
const activities = useActivitiesWithSsh(t, CONNECT_TIMEOUT_MS);
beforeEach(async () => {
  await resetFleet(t, 'v1');
});

const plan = () => fastPlan(t, { release: 'v2', currentRelease: 'v1' });
/** Activity events of the run: proves which ones were retried and that none ran into a Temporal timeout. */
async function activityEvents(c: CaseRun) {
  const history = await c.handle.fetchHistory();
  const events = history.events ?? [];
  return {
    timedOut: events.filter((e) => e.activityTaskTimedOutEventAttributes),
    maxAttempt: Math.max(0, ...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0)),
  };
}

describe('a host unreachable over SSH during the deploy', () => {
  it('sshd stopped: bounded retries, a clear error naming the host, then a full rollback once it is back', async () => {
    const c = await runCase(temporal, t, {
      plan: plan(),
      activities: faultAfterGreenDrained(activities, () => stopSshd(t.lab.dir, 'green-2')),
      during: async (h) => {
        await waitForStatus(h, 'step rollback', (s) => s.step === 'rollback');
        await startSshdAgain(t.lab.dir, 'green-2');
      },
    });
    logCase('sshd stopped, back for the rollback', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(
      /^deploy of green failed on green-2: install v2: .*refused.* \(gave up after 3 attempts\)\. Rolled back: green runs v1 and is live again$/,
    );
    expect(c.status.failure).toMatchObject({ kind: 'failure', step: 'deploy', cluster: 'green', host: 'green-2' });
    await expectFleet(t, 'v1');
  });

  it('sshd stays down: the rollback cannot finish; green stays out of the live pool and the run says which host is in which state', async () => {
    const c = await runCase(temporal, t, {
      plan: plan(),
      activities: faultAfterGreenDrained(activities, () => stopSshd(t.lab.dir, 'green-2')),
    });
    logCase('sshd stopped for good', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('failed');
    expect(c.reason).toMatch(/^deploy of green failed on green-2: install v2: .*refused.* \(gave up after 3 attempts\)\. /);
    expect(c.reason).toMatch(
      /Rollback of green to v1 failed \(could not install v1 on green-1, green-2\): green-2: install v1: .*\(gave up after 3 attempts\)\. /,
    );
    expect(c.reason).toMatch(
      /State left: green-1 v1, standby pool only; green-2 release unknown over SSH \(its health endpoint reports v1\), in no pool; last error: green-2: install v1: [^;]*; blue-1 v1, live pool; blue-2 v1, live pool\. /,
    );
    expect(c.reason).toMatch(
      /Users are served by blue-1, blue-2; green is kept out of the live pool\. Fix what the error names, then finish the rollback with a recovery: bluegreen recover \S+ --to v1 --plan PLAN\.$/,
    );
    const green2 = c.result?.hosts.find((h) => h.host === 'green-2');
    // Held out of the standby pool by its failed install (step 2's hold), so no smoke request reaches it.
    expect(green2).toMatchObject({ release: null, reportedRelease: 'v1', pool: 'none', phase: 'failed' });
    expect(c.status.rollback?.clusters).toEqual([
      expect.objectContaining({ cluster: 'green', outcome: 'failed', attempting: 'install v1 on green-1, green-2' }),
    ]);
    // green-2's install never ran (v1 on disk); both green hosts are out of the live pool.
    await expectFleet(t, 'v1', ['green-1', 'green-2']);
  });

  it('host frozen (SIGSTOP): every attempt ends at the handshake timeout, none hangs; rolled back once it thaws', async () => {
    const c = await runCase(temporal, t, {
      plan: plan(),
      activities: faultAfterGreenDrained(activities, () => freezeHost(t.lab.dir, 'green-2')),
      during: async (h) => {
        await waitForStatus(h, 'step rollback', (s) => s.step === 'rollback');
        thawHost(t.lab.dir, 'green-2');
      },
    });
    logCase('host frozen', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('rolled-back');
    expect(c.reason).toMatch(
      new RegExp(
        `^deploy of green failed on green-2: install v2: .*no SSH handshake within ${CONNECT_TIMEOUT_MS} ms.* \\(gave up after 3 attempts\\)\\. Rolled back`,
      ),
    );
    const { timedOut } = await activityEvents(c);
    expect(timedOut).toEqual([]);
    // 3 attempts of 4 s and 1 + 2 s of backoff, then the rollback: bounded, not hung.
    const deploy = c.result!.steps.find((s) => s.step === 'deploy')!;
    expect(deploy.ms).toBeGreaterThan(3 * CONNECT_TIMEOUT_MS);
    expect(deploy.ms).toBeLessThan(3 * CONNECT_TIMEOUT_MS + 3000 + 8000);
    await expectFleet(t, 'v1');
  });
});

describe("the LB's Runtime API unreachable", () => {
  it('away for a few seconds: the calls are retried and the deployment succeeds', async () => {
    const c = await runCase(temporal, t, {
      plan: plan(),
      activities,
      during: async (h) => {
        await waitForStatus(h, 'deploy of green', (s) => s.step === 'deploy' && s.cluster === 'green');
        hideHaproxyApi(t.lab.dir);
        await sleep(4000);
        restoreHaproxyApi(t.lab.dir);
      },
    });
    logCase('LB API away for 4 s', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    const { timedOut, maxAttempt } = await activityEvents(c);
    expect(timedOut).toEqual([]);
    expect(maxAttempt).toBeGreaterThan(1);
    await expectFleet(t, 'v2');
  });

  it('gone for good: the run stops with green out of the live pool and says what it could not do and what it left', async () => {
    const c = await runCase(temporal, t, {
      plan: plan(),
      activities,
      during: async (h) => {
        await waitForStatus(h, 'deploy of green', (s) => s.step === 'deploy' && s.cluster === 'green');
        hideHaproxyApi(t.lab.dir);
      },
    });
    restoreHaproxyApi(t.lab.dir);
    logCase('LB API gone', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('failed');
    // Step 2 holds each host out of standby rotation through the LB, so the deploy is what fails.
    expect(c.reason).toMatch(/^deploy of green failed: load balancer API at .* unavailable: .* \(gave up after 5 attempts\)\. /);
    expect(c.reason).toMatch(
      /Rollback of green to v1 failed \(could not read the load balancer's pools\): load balancer API at .* unavailable/,
    );
    expect(c.reason).toMatch(
      /State left \(pools as last known: the load balancer could not be read\): green-1 release unknown over SSH \(its health endpoint reports v2\), standby pool only; green-2 release unknown over SSH \(its health endpoint reports v2\), standby pool only; blue-1 v1, live pool; blue-2 v1, live pool\. Users are served by blue-1, blue-2; green is kept out of the live pool\./,
    );
    await expectFleet(t, { 'green-1': 'v2', 'green-2': 'v2', 'blue-1': 'v1', 'blue-2': 'v1' }, ['green-1', 'green-2']);
  });
});
