// The worker's run, once its environment is checked (src/worker.ts): Temporal's worker, the
// workflow thread (adopted if src/workflow-thread.ts started it early), then the activities.
import type { Logger } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { ThreadedVMWorkflowCreator, WorkerThreadClient } from '@temporalio/worker/lib/workflow/threaded-vm.js';
import type { CompiledWorkerOptions } from '@temporalio/worker/lib/worker-options';
import type { WorkflowBundleWithSourceMapAndFilename } from '@temporalio/worker/lib/workflow/workflow-worker-thread/input';
import { lateBoundActivities } from './activities/late-bound';
import { connectionOptions, type TemporalSettings } from './config';
import type { WorkerSecrets } from './worker-secrets';
import type { PrestartedThread } from './workflow-thread';

export interface WorkerStart {
  level: LogLevel;
  settings: TemporalSettings;
  secrets: WorkerSecrets;
  workflows: { workflowBundle: { codePath: string } } | { workflowsPath: string };
  prestarted?: PrestartedThread;
  mark: (phase: string) => void;
}

/** Whether Worker.create would start the very thread that was prestarted: same bundle, same options. */
function adoptable(pre: PrestartedThread, o: CompiledWorkerOptions): boolean {
  const names = [...o.activities.keys()];
  const sent = pre.init.registeredActivityNames;
  return (
    !o.debugMode &&
    o.reuseV8Context === true &&
    o.workflowThreadPoolSize === 1 &&
    o.isolateExecutionTimeoutMs === pre.init.isolateExecutionTimeoutMs &&
    o.patchActivationCallback === undefined &&
    names.length === sent.size &&
    names.every((n) => sent.has(n)) &&
    o.workflowBundle !== undefined &&
    'codePath' in o.workflowBundle &&
    o.workflowBundle.codePath === pre.init.workflowBundle.filename
  );
}

/**
 * Worker.create as the SDK does it, except that it takes the bundle and the workflow thread that
 * were started early, when they match its options; otherwise (another SDK default, TEMPORAL_DEBUG)
 * it ends that thread and does exactly what the SDK does.
 */
function adoptingWorker(pre: PrestartedThread, mark: (phase: string) => void): typeof Worker {
  // The prestarted thread serves one Worker.create, and only one whose options match.
  let spent = false;
  return class AdoptingWorker extends Worker {
    protected static override async getOrCreateBundle(o: CompiledWorkerOptions, logger: Logger) {
      if (!spent && adoptable(pre, o)) return pre.init.workflowBundle;
      return super.getOrCreateBundle(o, logger);
    }

    protected static override async createWorkflowCreator(
      bundle: WorkflowBundleWithSourceMapAndFilename,
      o: CompiledWorkerOptions,
      logger: Logger,
    ) {
      const adopt = !spent && bundle === pre.init.workflowBundle && adoptable(pre, o);
      const first = !spent;
      spent = true;
      if (!adopt) {
        if (first) {
          await pre.thread.terminate();
          mark('workflow thread not adopted (options differ): the SDK starts its own');
        }
        return super.createWorkflowCreator(bundle, o, logger);
      }
      await pre.ready;
      mark('workflow thread adopted');
      return new ThreadedVMWorkflowCreator([new WorkerThreadClient(pre.thread, logger, undefined)]);
    }
  };
}

export async function runWorker({ level, settings, secrets, workflows, prestarted, mark }: WorkerStart): Promise<void> {
  mark('Temporal loaded');
  Runtime.install({ logger: new DefaultLogger(level) });
  const connection = await NativeConnection.connect(connectionOptions(settings));
  mark('connected');
  const late = lateBoundActivities();
  let worker: Worker | undefined;
  let adapters: { close(): void } | undefined;
  let ran = false;
  try {
    const creating = (prestarted ? adoptingWorker(prestarted, mark) : Worker).create({
      connection,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      ...workflows,
      activities: late.activities,
      // Activities heartbeat; on SIGTERM running ones get this long to notice and finish.
      shutdownGraceTime: '10 seconds',
      // Heartbeats leave at least every 3 s, so the 15 s heartbeat timeout survives a rejected one.
      maxHeartbeatThrottleInterval: '3 seconds',
    });
    // Asked for after Worker.create has begun: its part on this thread goes first, then this loads
    // while the worker registers (or, without a prestarted thread, while its thread starts). The key
    // and known_hosts are parsed here: a bad one still stops the worker before it polls.
    const loading = import('./worker-deps').then(async ({ realActivities }) => {
      const real = await realActivities(secrets);
      mark('activities ready');
      return real;
    });
    const [created, loaded] = await Promise.allSettled([creating, loading]);
    if (created.status === 'fulfilled') worker = created.value;
    if (loaded.status === 'fulfilled') adapters = loaded.value;
    // The secrets' error first: it is the user's to fix, and was checked first before this overlap.
    if (loaded.status === 'rejected') throw loaded.reason;
    if (created.status === 'rejected') throw created.reason;
    late.bind(loaded.value.activities);
    mark('worker created');
    console.log(`worker: task queue ${settings.taskQueue} on ${settings.address} (namespace ${settings.namespace})`);
    // Worker.run() resolves after SIGINT/SIGTERM once in-flight tasks are done (graceful shutdown).
    ran = true;
    await created.value.run();
  } finally {
    adapters?.close();
    // A worker created but never run keeps its hold on the connection (the SDK has no way to
    // release it); the process exits right after, which closes both.
    if (!worker || ran) await connection.close();
  }
}
