// The worker starts its workflow thread before it loads Temporal's SDK, and Worker.create adopts it
// (src/worker-thread.ts). It relies on two internals of the pinned SDK: these tests run workflows
// on an adopted thread, and on the SDK's own threads where the early one does not fit.
import { NativeConnection, type Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { workflowBundlePath } from '../../../src/paths';
import { startWorkflowThread } from '../../../src/worker-thread';
import { quietTemporalLogs, uniqueId, useTemporal, workflowBundle } from '../../support/temporal';
import { useWorkerProcesses } from '../../support/worker-process';

const temporal = useTemporal();
const workers = useWorkerProcesses('early-thread');

/** The warm-up workflow: it parses the sample plan (four hosts) with the deployment's own schema. */
const warmUp = (taskQueue: string) =>
  temporal.client.workflow.execute('warmUpWorker', {
    taskQueue,
    workflowId: uniqueId('early-thread'),
    workflowExecutionTimeout: '1 minute',
  });

describe('the workflow thread started before the SDK loads', () => {
  it('is the one the compiled worker runs its workflows on', async () => {
    const taskQueue = uniqueId('early-thread');
    const worker = await workers.start({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BG_TASK_QUEUE: taskQueue,
      BG_WORKER_TIMING: '1',
      BG_WORKER_WARM_UP: '0',
    });
    expect(worker.output()).toContain('worker created, on the workflow thread started first');
    expect(await warmUp(taskQueue)).toBe(4);
  });

  /** Workers made by one early thread's Worker class, on a fresh connection, each on its own task queue. */
  async function withAdoptingWorkers(
    early: Parameters<typeof startWorkflowThread>[0],
    options: { workflowThreadPoolSize?: number },
    body: (create: (taskQueue: string) => Promise<Worker>, thread: ReturnType<typeof startWorkflowThread>) => Promise<void>,
  ): Promise<void> {
    quietTemporalLogs();
    const thread = startWorkflowThread(early);
    const AdoptingWorker = thread.adoptingWorker();
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    try {
      await body(
        async (taskQueue) =>
          AdoptingWorker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: {}, ...options }),
        thread,
      );
    } finally {
      await thread.discard();
      await connection.close();
    }
  }
  const bundleEarly = (activityNames: string[]) => ({ bundlePath: workflowBundlePath, isolateExecutionTimeoutMs: 5_000, activityNames });

  it('started with the bundle, runs the first worker’s workflows; a second worker gets the SDK’s own thread', async () => {
    await withAdoptingWorkers(bundleEarly([]), {}, async (create, thread) => {
      const [first, second] = [uniqueId('early-first'), uniqueId('early-second')];
      const w1 = await create(first);
      expect(thread.adopted()).toBe(true);
      const w2 = await create(second);
      expect(await w1.runUntil(w2.runUntil(Promise.all([warmUp(first), warmUp(second)])))).toEqual([4, 4]);
    });
  });

  it('goes to one of two workers created at once; the other gets the SDK’s own thread', async () => {
    await withAdoptingWorkers(bundleEarly([]), {}, async (create, thread) => {
      const [first, second] = [uniqueId('early-a'), uniqueId('early-b')];
      const [w1, w2] = await Promise.all([create(first), create(second)]);
      expect(thread.adopted()).toBe(true);
      expect(await w1.runUntil(w2.runUntil(Promise.all([warmUp(first), warmUp(second)])))).toEqual([4, 4]);
    });
  });

  it('started for other activities than the worker has, is left: the SDK’s own thread runs the workflows', async () => {
    await withAdoptingWorkers(bundleEarly(['deployHosts']), {}, async (create, thread) => {
      const taskQueue = uniqueId('early-other');
      const worker = await create(taskQueue);
      expect(thread.adopted()).toBe(false);
      expect(await worker.runUntil(warmUp(taskQueue))).toBe(4);
    });
  });

  it('started without the bundle, gets it from Worker.create', async () => {
    await withAdoptingWorkers(undefined, {}, async (create, thread) => {
      const taskQueue = uniqueId('early-late-bundle');
      const worker = await create(taskQueue);
      expect(thread.adopted()).toBe(true);
      expect(await worker.runUntil(warmUp(taskQueue))).toBe(4);
    });
  });

  it('is left to the SDK when the options ask for a pool of threads', async () => {
    await withAdoptingWorkers(bundleEarly([]), { workflowThreadPoolSize: 2 }, async (create, thread) => {
      const taskQueue = uniqueId('early-pool');
      const worker = await create(taskQueue);
      expect(thread.adopted()).toBe(false);
      expect(await worker.runUntil(warmUp(taskQueue))).toBe(4);
    });
  });
});
