// Once a worker polls, it runs one warmUpWorker workflow (src/workflows/warm-up.ts) on its own task
// queue, so a deployment started right after the worker does not pay for a cold workflow thread.
// Then it loads ssh2's client. Best effort: a failure is one line on stderr and changes nothing
// else. BG_WORKER_WARM_UP=0 skips both.
import os from 'node:os';
import type { NativeConnection } from '@temporalio/worker';

export async function warmUp(connection: NativeConnection, namespace: string, taskQueue: string, env = process.env): Promise<void> {
  if (env.BG_WORKER_WARM_UP === '0') return;
  const t0 = performance.now();
  try {
    const { Client } = await import('@temporalio/client');
    const client = new Client({ connection, namespace });
    await client.workflow.execute('warmUpWorker', {
      taskQueue,
      // Its own id per worker start; with several workers on the queue another one may run it.
      workflowId: `bluegreen-warm-up-${os.hostname()}-${process.pid}-${Date.now()}`,
      workflowExecutionTimeout: '1 minute',
    });
    if (env.BG_WORKER_TIMING === '1') console.error(`worker: warm-up run took ${Math.round(performance.now() - t0)} ms`);
  } catch (err) {
    console.error(`worker: warm-up run failed (deployments are not affected): ${err instanceof Error ? err.message : String(err)}`);
  }
  // ssh2's client is not needed to poll, so it was left out of the start; loading it now, idle,
  // spares the first deployment's first logins 15-40 ms.
  try {
    const t1 = performance.now();
    const { loadSshClient } = await import('./adapters/ssh/pool');
    loadSshClient();
    if (env.BG_WORKER_TIMING === '1') console.error(`worker: ssh2 client loaded in ${Math.round(performance.now() - t1)} ms`);
  } catch (err) {
    console.error(`worker: could not load ssh2 ahead of the first connection: ${err instanceof Error ? err.message : String(err)}`);
  }
}
