// One deployment per environment at a time: the workflow id derives from the environment, and a
// second start while a run is open is refused with a message that says what to do.
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { RunAlreadyActiveError, startDeployment } from '../../../src/client/start';
import { parsePlan } from '../../../src/plan/validate';
import { abortSignal, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { waitForStatus } from '../../support/wait';

const temporal = useTemporal();

describe('one run per environment', () => {
  it('refuses a second start for the same environment while the first run is open, and names the run', async () => {
    const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');
    const environment = uniqueId('env').toLowerCase().slice(0, 40);
    const plan = parsePlan(fleet.plan({ environment, gates: { promote: { enabled: true, timeoutSeconds: 600 } } }));
    const taskQueue = uniqueId('tq');
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const first = await startDeployment(temporal.client, plan, { taskQueue });
      expect(first.workflowId).toBe(`bluegreen-${environment}`);
      await waitForStatus(first, 'the promote gate', (s) => s.pendingGate !== undefined);
      const second = startDeployment(temporal.client, { ...plan, release: 'v3' }, { taskQueue });
      await expect(second).rejects.toBeInstanceOf(RunAlreadyActiveError);
      await expect(second).rejects.toThrow(
        `a deployment of environment "${environment}" is already running (workflow bluegreen-${environment})`,
      );
      // The first run is untouched by the refused start.
      expect((await first.query(statusQuery)).release).toBe('v2');
      await first.signal(abortSignal, { by: 'test', reason: 'done with it' });
      await first.result().catch(() => undefined);
      // Once it has ended, the environment can be deployed again.
      const again = await startDeployment(temporal.client, plan, { taskQueue });
      expect(again.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
      await again.terminate('test over');
    });
  });
});
