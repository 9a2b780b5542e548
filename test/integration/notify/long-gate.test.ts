// Gates that wait long. One with onTimeout "wait" reminds its webhooks each time it passes its
// deadline. One that continues as new keeps its notifications one stream: no second gate-pending for
// the same gate, numbering that goes on, counts carried, the decision and outcome told by the new run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { NotifyEvent } from '../../../src/activities/notify-types';
import { webhooksFromEnv } from '../../../src/adapters/http/webhooks';
import { blueGreenDeployment } from '../../../src/workflows';
import { CONTINUE_AS_NEW_AT_EVENTS } from '../../../src/workflows/control';
import { approveSignal, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { deadUrl, startReceiver, type Receiver } from '../../support/webhook-receiver';

const temporal = useTemporal();
let json: Receiver;
beforeAll(async () => {
  json = await startReceiver('ok');
});
afterAll(async () => {
  await json?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('notifications of a gate that waits long', () => {
  it('remind with gate-pending each time a gate with onTimeout: wait passes its deadline', async () => {
    const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');
    const taskQueue = uniqueId('notify-remind');
    const workflowId = uniqueId('notify-remind');
    const hooks = await startReceiver('ok');
    const plan = fleet.plan({
      gates: { promote: { enabled: true, timeoutSeconds: 1, onTimeout: 'wait' } },
      notify: [{ name: 'ops', events: ['gate-pending', 'gate-decided'] }],
    });
    const activities = createActivities({ ...fleet.deps(), webhooks: webhooksFromEnv({ BLUEGREEN_WEBHOOK_OPS: hooks.url }) });
    try {
      await withWorker(taskQueue, activities, async () => {
        const handle = await temporal.client.workflow.start(blueGreenDeployment, {
          taskQueue,
          workflowId,
          args: [plan],
          workflowExecutionTimeout: '2 minutes',
        });
        const pending = (gate: string) =>
          hooks.received.filter((r) => r.body.event === 'gate-pending' && (r.body.gate as { name: string }).name === gate);
        while (pending('promote-green').length < 2) await sleep(100);
        await handle.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice' });
        while (pending('promote-blue').length < 1) await sleep(100);
        await handle.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'alice' });
        expect((await handle.result()).outcome).toBe('succeeded');
        const [first, second] = pending('promote-green').map((r) => r.body as unknown as NotifyEvent);
        expect(first?.gate?.reminder).toBeUndefined();
        expect(first?.text).toMatch(/^gate promote-green is waiting for a decision on release v2 \(a reminder at .* if still undecided\)$/);
        expect(second?.gate?.reminder).toBe(true);
        expect(second?.text).toMatch(/^gate promote-green is still waiting, since .*, for a decision/);
        expect(Date.parse(second?.gate?.deadline ?? '') - Date.parse(first?.gate?.deadline ?? '')).toBe(1000);
        expect(second?.gate?.commands?.approve).toBe(first?.gate?.commands?.approve);
      });
    } finally {
      await hooks.close();
    }
  });

  it('across continue-as-new go on as one stream: one gate-pending per gate, numbering and counts carried over', async () => {
    const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');
    const taskQueue = uniqueId('notify-can');
    const workflowId = uniqueId('notify-can');
    const plan = fleet.plan({
      gates: {
        promote: { enabled: true, timeoutSeconds: 3600, onTimeout: 'wait' },
        migrate: { enabled: false, timeoutSeconds: 3600, onTimeout: 'reject' },
      },
      notify: [{ name: 'ops' }, { name: 'down', events: ['gate-pending', 'outcome'] }],
    });
    const env = { BLUEGREEN_WEBHOOK_OPS: json.url, BLUEGREEN_WEBHOOK_DOWN: await deadUrl() };
    const activities = createActivities({ ...fleet.deps(), webhooks: webhooksFromEnv(env) });
    await withWorker(taskQueue, activities, async () => {
      const first = await temporal.client.workflow.start(blueGreenDeployment, {
        taskQueue,
        workflowId,
        args: [plan],
        workflowExecutionTimeout: '5 minutes',
      });
      const latest = temporal.client.workflow.getHandle(workflowId);
      while (!json.received.some((r) => r.body.event === 'gate-pending')) await sleep(100);
      let sent = 0;
      while ((await latest.describe()).runId === first.firstExecutionRunId) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => latest.signal(approveSignal, { gate: 'promote-blue', by: `bot-${sent + i}` })),
        );
        sent += 50;
        await sleep(300);
        expect(sent).toBeLessThan(4 * CONTINUE_AS_NEW_AT_EVENTS);
      }
      const carried = await latest.query(statusQuery);
      expect(carried.notifications?.find((n) => n.name === 'ops')).toMatchObject({ delivered: 2, failed: 0 });
      expect(carried.notifications?.find((n) => n.name === 'down')).toMatchObject({ delivered: 0, failed: 1 });

      await latest.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice', runId: first.firstExecutionRunId });
      let s = await latest.query(statusQuery);
      while (s.pendingGate?.gate !== 'promote-blue') {
        await sleep(100);
        s = await latest.query(statusQuery);
      }
      await latest.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'bob' });
      const result = await latest.result();
      expect(result.outcome).toBe('succeeded');
      const events = json.received.map((r) => r.body as unknown as NotifyEvent);
      expect(events.map((e) => `${e.seq} ${e.event} ${e.gate?.name ?? ''}`.trim())).toEqual([
        '1 run-started',
        '2 gate-pending promote-green',
        '3 gate-decided promote-green',
        '4 gate-pending promote-blue',
        '5 gate-decided promote-blue',
        '6 outcome',
      ]);
      // Ids stay those of the deployment's first run; runId says which run told it.
      expect(new Set(events.map((e) => e.id.split('/')[1]))).toEqual(new Set([first.firstExecutionRunId]));
      expect(events[1]?.runId).toBe(first.firstExecutionRunId);
      expect(events[2]?.runId).not.toBe(first.firstExecutionRunId);
      expect(result.notifications).toEqual([
        { name: 'ops', delivered: 6, failed: 0 },
        expect.objectContaining({
          name: 'down',
          delivered: 0,
          failed: 3,
          lastError: 'outcome: connection refused (ECONNREFUSED) (1 attempt)',
        }),
      ]);
    });
  });

  it('never lose a decision that arrives while deliveries settle before continue-as-new', async () => {
    const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');
    const taskQueue = uniqueId('notify-settle');
    const workflowId = uniqueId('notify-settle');
    // Each event takes this receiver 3 x 3 s + 3 s to give up on: the run's settle before
    // continue-as-new waits for it (up to 2 x 12 s), and the approval arrives in that wait.
    const slow = await startReceiver('slow', { slowMs: 120_000 });
    const plan = fleet.plan({
      gates: {
        promote: { enabled: true, timeoutSeconds: 3600, onTimeout: 'wait' },
        migrate: { enabled: false, timeoutSeconds: 3600, onTimeout: 'reject' },
      },
      notify: [{ name: 'slow', timeoutSeconds: 3 }],
    });
    const activities = createActivities({ ...fleet.deps(), webhooks: webhooksFromEnv({ BLUEGREEN_WEBHOOK_SLOW: slow.url }) });
    try {
      await withWorker(taskQueue, activities, async () => {
        const first = await temporal.client.workflow.start(blueGreenDeployment, {
          taskQueue,
          workflowId,
          args: [plan],
          workflowExecutionTimeout: '5 minutes',
        });
        const latest = temporal.client.workflow.getHandle(workflowId);
        while ((await latest.query(statusQuery)).pendingGate?.gate !== 'promote-green') await sleep(100);
        let sent = 0;
        while ((await latest.describe()).historyLength < CONTINUE_AS_NEW_AT_EVENTS + 20) {
          await Promise.all(
            Array.from({ length: 50 }, (_, i) => latest.signal(approveSignal, { gate: 'promote-blue', by: `bot-${sent + i}` })),
          );
          sent += 50;
          await sleep(300);
        }
        // Past the threshold, still the first run: it is settling its deliveries.
        expect((await latest.describe()).runId).toBe(first.firstExecutionRunId);
        expect(slow.hits).toBeLessThanOrEqual(3);
        await latest.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice' });
        let s = await latest.query(statusQuery);
        const deadline = Date.now() + 90_000;
        while (s.pendingGate?.gate !== 'promote-blue') {
          expect(Date.now(), 'the approval of promote-green was lost').toBeLessThan(deadline);
          await sleep(200);
          s = await latest.query(statusQuery);
        }
        await latest.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'alice' });
        expect((await latest.result()).outcome).toBe('succeeded');
      });
    } finally {
      await slow.close();
    }
  });
});
