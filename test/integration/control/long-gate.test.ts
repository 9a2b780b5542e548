// A gate can wait for days while signals arrive; the run's history must not grow without bound.
// Past CONTINUE_AS_NEW_AT_EVENTS the run continues as new, waiting at the same gate, with the same
// status, deadline and decisions; an approval naming the first run still applies.
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { blueGreenDeployment } from '../../../src/workflows';
import { CONTINUE_AS_NEW_AT_EVENTS } from '../../../src/workflows/control';
import { approveSignal, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { sleep, waitForStatus } from '../../support/wait';

const temporal = useTemporal();

describe('a gate that waits long', () => {
  it('continues as new before its history grows large, keeps the gate, and completes when approved', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    const taskQueue = uniqueId('gate');
    const workflowId = uniqueId('gate');
    const plan = fleet.plan({
      gates: {
        promote: { enabled: true, timeoutSeconds: 3600, onTimeout: 'wait' },
        migrate: { enabled: false, timeoutSeconds: 3600, onTimeout: 'reject' },
      },
    });
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const first = await temporal.client.workflow.start(blueGreenDeployment, {
        taskQueue,
        workflowId,
        args: [plan],
        workflowExecutionTimeout: '5 minutes',
      });
      const latest = temporal.client.workflow.getHandle(workflowId);
      const s0 = await waitForStatus(first, 'gate promote-green', (s) => s.pendingGate?.gate === 'promote-green');
      // Signals for a gate that is not pending: each is recorded as ignored, each adds history.
      let sent = 0;
      while ((await latest.describe()).runId === first.firstExecutionRunId) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => latest.signal(approveSignal, { gate: 'promote-blue', by: `bot-${sent + i}` })),
        );
        sent += 50;
        // A run cannot continue as new while signals keep arriving (they must be handled first):
        // leave it the quiet moment any real gate has between signals.
        await sleep(300);
        expect(sent).toBeLessThan(4 * CONTINUE_AS_NEW_AT_EVENTS);
      }
      const firstRun = await temporal.client.workflow.getHandle(workflowId, first.firstExecutionRunId).describe();
      console.log(`continued as new after ${sent} signals; the first run had ${firstRun.historyLength} events`);
      expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');
      expect(firstRun.historyLength).toBeLessThan(CONTINUE_AS_NEW_AT_EVENTS + 200);

      // Give the new run its first workflow task, then read the carried state.
      const s1 = await latest.query(statusQuery);
      expect(s1.pendingGate).toEqual(s0.pendingGate);
      expect(s1.steps.map((s) => `${s.step}:${s.cluster ?? ''}`)).toEqual(s0.steps.map((s) => `${s.step}:${s.cluster ?? ''}`));
      expect(s1.decisions.length).toBeGreaterThan(100);
      expect(s1.decisions.every((d) => d.kind === 'ignored')).toBe(true);

      // An approval naming the run the operator saw (the first) still applies.
      await latest.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice', runId: first.firstExecutionRunId });
      await waitForStatus(latest, 'gate promote-blue', (s) => s.pendingGate?.gate === 'promote-blue');
      await latest.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'alice' });
      const result = await latest.result();
      expect(result.outcome).toBe('succeeded');
      expect(result.steps.map((s: { step: string; cluster?: string }) => `${s.step}:${s.cluster ?? ''}`)).toEqual([
        'preflight:',
        'standby:green',
        'deploy:green',
        'verify:green',
        'live:green',
        'standby:blue',
        'deploy:blue',
        'verify:blue',
        'live:blue',
        'migrate:',
      ]);
      expect(
        result.decisions
          .filter((d: { kind: string }) => d.kind === 'approve')
          .map((d: { gate?: string; by: string }) => `${d.gate}:${d.by}`),
      ).toEqual(['promote-green:alice', 'promote-blue:alice']);
      expect([...fleet.releases.values()]).toEqual(['v2', 'v2', 'v2', 'v2']);
    });
  });
});
