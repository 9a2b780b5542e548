// Tracker issue 11, item 2, on the real lab: a rollback that cannot finish strands green out of
// the live pool (green-2's sshd stops right after green is drained, so the deploy and the rollback
// both fail); recovery refuses while green-2 is unreachable, and once sshd is back it brings every
// host to v1 and live, under load, with no failed request and no lost write.
import { beforeEach, describe, expect, it } from 'vitest';
import { hideHaproxyApi, restoreHaproxyApi, startSshdAgain, stopSshd } from '../../../src/lab';
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
  upInLive,
} from '../../support/fault-cases';
import { waitForStatus } from '../../support/wait';

const CONNECT_TIMEOUT_MS = 4000;

const temporal = useTemporal();
const t = useTestLab(13);
const activities = useActivitiesWithSsh(t, CONNECT_TIMEOUT_MS);
beforeEach(async () => {
  await resetFleet(t, 'v1');
});

describe('recovery after a rollback that could not finish', () => {
  it('strand green, refuse while green-2 is unreachable, then recover every host to v1 and live under load', async () => {
    const failed = await runCase(temporal, t, {
      plan: fastPlan(t, { release: 'v2', currentRelease: 'v1' }),
      activities: faultAfterGreenDrained(activities, () => stopSshd(t.lab.dir, 'green-2')),
    });
    logCase('deploy v2, green-2 sshd stops for good', failed);
    expectUsersUnharmed(failed);
    expect(failed.outcome).toBe('failed');
    expect(failed.reason).toMatch(/finish the rollback with a recovery: bluegreen recover \S+ --to v1 --plan PLAN\.$/);
    await expectFleet(t, 'v1', ['green-1', 'green-2']);

    // Still unreachable: refused, naming the host, nothing changed.
    const plan = fastPlan(t, { release: 'v2', currentRelease: 'v1' });
    const refused = await runCase(temporal, t, { plan, activities, recoverTo: 'v1' });
    logCase('recover while green-2 is unreachable', refused);
    expectUsersUnharmed(refused);
    expect(refused.outcome).toBe('failed');
    expect(refused.reason).toMatch(/^Recovery refused to start; nothing was changed:\n {2}- green-2: .*refused/);
    expect(refused.status.steps.map((s) => s.step)).toEqual(['survey']);
    await expectFleet(t, 'v1', ['green-1', 'green-2']);

    await startSshdAgain(t.lab.dir, 'green-2');
    const c = await runCase(temporal, t, { plan, activities, recoverTo: 'v1' });
    logCase('recover to v1', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    expect(c.status.recovery?.survey.map((h) => `${h.host} ${h.release} ${h.live}/${h.standby}`)).toEqual([
      'green-1 v1 MAINT (admin maint)/UP',
      'green-2 v1 MAINT (admin maint)/MAINT (admin maint)', // held by its failed install
      'blue-1 v1 UP/MAINT (admin maint)',
      'blue-2 v1 UP/MAINT (admin maint)',
    ]);
    expect(c.status.recovery?.clusters.map((r) => `${r.cluster}:${r.action}:${r.outcome}`)).toEqual([
      'green:converge:done',
      'blue:skip:skipped',
    ]);
    expect(c.result?.steps.map((s) => `${s.step}${s.cluster ? `:${s.cluster}` : ''}`)).toEqual([
      'survey',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
    ]);
    // Some server was UP in the live backend at every sample.
    expect(c.sampler.samples.filter((s) => !t.lab.hosts.some((h) => upInLive(s, h.name)))).toEqual([]);
    await expectFleet(t, 'v1');
  });

  it('the LB gone during a deploy strands green on v2; once it is back, recovery installs v1 there and puts it live, under load', async () => {
    const plan = fastPlan(t, { release: 'v2', currentRelease: 'v1' });
    const failed = await runCase(temporal, t, {
      plan,
      activities,
      during: async (h) => {
        await waitForStatus(h, 'deploy of green', (s) => s.step === 'deploy' && s.cluster === 'green');
        hideHaproxyApi(t.lab.dir);
      },
    });
    restoreHaproxyApi(t.lab.dir);
    logCase('deploy v2, LB API gone', failed);
    expectUsersUnharmed(failed);
    expect(failed.outcome).toBe('failed');
    await expectFleet(t, { 'green-1': 'v2', 'green-2': 'v2', 'blue-1': 'v1', 'blue-2': 'v1' }, ['green-1', 'green-2']);

    const c = await runCase(temporal, t, { plan, activities, recoverTo: 'v1' });
    logCase('recover to v1 after the LB came back', c);
    expectUsersUnharmed(c);
    expect(c.outcome).toBe('succeeded');
    expect(c.status.fromRelease).toBe('v1/v2');
    expect(c.status.recovery?.clusters.map((r) => `${r.cluster}:${r.action}:${r.outcome}`)).toEqual([
      'green:converge:done',
      'blue:skip:skipped',
    ]);
    expect(c.sampler.samples.filter((s) => !t.lab.hosts.some((h) => upInLive(s, h.name)))).toEqual([]);
    await expectFleet(t, 'v1');
  });
});
