// A worker process warms its workflow thread once it polls: one warmUpWorker run on its own task
// queue (src/worker-warm-up.ts), so the first deployment after a start does not pay for cold code;
// then it loads ssh2's client.
import { describe, expect, inject, it } from 'vitest';
import { useTemporal, uniqueId } from '../../support/temporal';
import { useWorkerProcesses } from '../../support/worker-process';

const temporal = useTemporal();
const workers = useWorkerProcesses('warm-up');

async function warmUpRuns(taskQueue: string): Promise<{ workflowId: string; status: string }[]> {
  const runs: { workflowId: string; status: string }[] = [];
  for await (const wf of temporal.client.workflow.list({ query: `WorkflowType = 'warmUpWorker' AND TaskQueue = '${taskQueue}'` }))
    runs.push({ workflowId: wf.workflowId, status: wf.status.name });
  return runs;
}

describe('worker start-up', () => {
  it('runs one warmUpWorker workflow on its task queue, which checks a sample plan and completes, then loads ssh2', async () => {
    const taskQueue = uniqueId('warm-up');
    const worker = await workers.start({ TEMPORAL_ADDRESS: inject('temporalAddress'), BG_TASK_QUEUE: taskQueue, BG_WORKER_TIMING: '1' });
    const deadline = Date.now() + 20_000;
    let runs = await warmUpRuns(taskQueue);
    while (!runs.some((r) => r.status === 'COMPLETED') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      runs = await warmUpRuns(taskQueue);
    }
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe('COMPLETED');
    // The sample plan's four hosts, parsed by the same plan schema a deployment uses.
    expect(await temporal.client.workflow.getHandle(runs[0]!.workflowId).result()).toBe(4);
    expect(worker.output()).toMatch(/worker: warm-up run took \d+ ms/);
    expect(worker.output()).not.toMatch(/warm-up run failed/);
    // ssh2's client, left out of the start, is loaded while the worker is idle.
    const loaded = Date.now() + 5_000;
    while (!/worker: ssh2 client loaded in \d+ ms/.test(worker.output()) && Date.now() < loaded)
      await new Promise((r) => setTimeout(r, 100));
    expect(worker.output()).toMatch(/worker: ssh2 client loaded in \d+ ms/);
  });

  it('runs none with BG_WORKER_WARM_UP=0', async () => {
    const taskQueue = uniqueId('no-warm-up');
    await workers.start({ TEMPORAL_ADDRESS: inject('temporalAddress'), BG_TASK_QUEUE: taskQueue, BG_WORKER_WARM_UP: '0' });
    // A warm-up starts right after the worker polls and takes well under a second here.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await warmUpRuns(taskQueue)).toEqual([]);
  });
});
