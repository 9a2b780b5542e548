// The prebuilt workflow bundle keeps only the mappings of its source map (scripts/build.mjs drops the
// embedded sources to halve worker start-up): a waiting run's stack trace, as Temporal Web's "Stack
// Trace" tab shows it, must still point at our TypeScript files and lines, not into the bundle.
import { expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { blueGreenDeployment } from '../../../src/workflows';
import { abortSignal, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';

const temporal = useTemporal();

it('a run waiting at a gate reports a stack trace in the workflow sources, line by line', async () => {
  const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');
  const taskQueue = uniqueId('stack');
  await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
    const plan = fleet.plan({ gates: { promote: { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' } } });
    const h = await temporal.client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: uniqueId('stack'), args: [plan] });
    const deadline = Date.now() + 30_000;
    while (!(await h.query(statusQuery)).pendingGate) {
      if (Date.now() > deadline) throw new Error('never reached the promote gate');
      await new Promise((r) => setTimeout(r, 100));
    }
    const trace = await h.query<string>('__stack_trace');
    expect(trace).toMatch(/src\/workflows\/control\.ts:\d+:\d+/);
    expect(trace).toMatch(/src\/workflows\/deployment\.ts:\d+:\d+/);
    expect(trace).not.toMatch(/workflow-bundle\.js/);
    await h.signal(abortSignal, { by: 'test', reason: 'done' });
    await h.result().catch(() => undefined);
  });
});
