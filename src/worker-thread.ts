// The SDK's workflow thread, started before the SDK loads in the main thread (DESIGN.md, "Worker
// start-up"). Worker.create spawns that thread only once the SDK has loaded here (0.5-0.8 s); the
// thread then loads much of the SDK again (0.3-0.5 s) and compiles the workflow bundle (0.15 s)
// while this thread waits. Spawned first and handed the prebuilt bundle at once, the thread does
// all of that while this one loads its own modules, and Worker.create adopts it.
//
// This reaches into internals of @temporalio/worker (pinned to an exact version in package.json):
// the thread's entry file, its request/response messages and their `init`, and the protected static
// methods Worker.create calls. Whatever does not match what the thread was started with goes the
// SDK's own way; test/integration/worker/early-thread.test.ts runs workflows both ways.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker as Thread } from 'node:worker_threads';
import type * as Sdk from '@temporalio/worker';
import type { Logger, Worker } from '@temporalio/worker';
import type { CompiledWorkerOptions } from '@temporalio/worker/lib/worker-options';
import type { WorkflowCreator } from '@temporalio/worker/lib/workflow/interface';
import type { Init, WorkflowBundleWithSourceMapAndFilename } from '@temporalio/worker/lib/workflow/workflow-worker-thread/input';

const require = createRequire(import.meta.url);

/**
 * The SDK, required rather than imported: an ESM import of its CommonJS index reads every export
 * once, and so loads what src/worker-deferred-modules.ts left unloaded.
 */
export const requireSdk = () => require('@temporalio/worker') as typeof Sdk;

export const THREAD_ENTRY = '@temporalio/worker/lib/workflow/workflow-worker-thread';

/** What the thread is initialised with before the SDK loads: each must match the worker's options. */
export interface EarlyInit {
  /** The prebuilt bundle, an absolute path: the worker's `workflowBundle: { codePath }`. */
  bundlePath: string;
  isolateExecutionTimeoutMs: number;
  activityNames: readonly string[];
}

export interface EarlyWorkflowThread {
  /** Loads the SDK: its Worker, whose create adopts this thread (once) when the options allow it. */
  adoptingWorker(): typeof Worker;
  /** Whether a worker took the thread (the others, if any, spawned their own). */
  adopted(): boolean;
  /** Ends the thread unless a worker adopted it (that worker ends it when it shuts down). */
  discard(): Promise<void>;
}

/**
 * Starts the thread now: call before anything loads @temporalio/worker. With `early`, the thread
 * also compiles the bundle now; without, it gets the bundle from Worker.create. `entry`: a file
 * that loads the SDK's thread file (the built worker's src/workflow-thread.ts), or that file itself.
 */
export function startWorkflowThread(early?: EarlyInit, entry = require.resolve(THREAD_ENTRY)): EarlyWorkflowThread {
  const thread = new Thread(entry);
  // Until adopted it must not keep the process alive: a worker that failed to start exits.
  thread.unref();
  const sent = early && initEarly(thread, early);
  let claimed = false;
  let adopted = false;
  let spoilt = false;
  return {
    adopted: () => adopted,
    discard: async () => {
      if (!adopted) await thread.terminate();
    },
    adoptingWorker: () => {
      const { Worker: SdkWorker } = requireSdk();
      const { ThreadedVMWorkflowCreator, WorkerThreadClient } =
        require('@temporalio/worker/lib/workflow/threaded-vm.js') as typeof import('@temporalio/worker/lib/workflow/threaded-vm.js');
      return class AdoptingWorker extends SdkWorker {
        protected static override async getOrCreateBundle(options: CompiledWorkerOptions, logger: Logger) {
          // The same code, source map and file name as the SDK's parse of that file, less its
          // evaluation of the whole bundle once more in this thread (for debuggers' breakpoints).
          const b = options.workflowBundle;
          if (sent && b && 'codePath' in b && b.codePath === early?.bundlePath) return sent.bundle;
          return super.getOrCreateBundle(options, logger);
        }

        protected static override async createWorkflowCreator(
          workflowBundle: WorkflowBundleWithSourceMapAndFilename,
          options: CompiledWorkerOptions,
          logger: Logger,
        ): Promise<WorkflowCreator> {
          const activityNames = new Set(options.activities.keys());
          const fits =
            !claimed &&
            !spoilt &&
            !options.debugMode && // workflows in this thread
            options.workflowThreadPoolSize === 1 &&
            options.reuseV8Context !== false &&
            options.patchActivationCallback === undefined &&
            (!sent ||
              (workflowBundle === sent.bundle &&
                options.isolateExecutionTimeoutMs === sent.init.isolateExecutionTimeoutMs &&
                sameSet(activityNames, sent.init.registeredActivityNames)));
          // Claimed before the wait: a worker created meanwhile gets the SDK's own thread.
          if (fits) claimed = true;
          if (fits && (await sent?.done) !== false) {
            adopted = true;
            thread.ref();
            const client = new WorkerThreadClient(thread, logger);
            if (!sent) await client.send(initMessage(workflowBundle, options.isolateExecutionTimeoutMs, activityNames));
            return new ThreadedVMWorkflowCreator([client]);
          }
          // Initialised for something else (or failed to): of no use to any worker.
          if (sent && (fits || !claimed) && !spoilt) {
            spoilt = true;
            await thread.terminate();
          }
          return super.createWorkflowCreator(workflowBundle, options, logger);
        }
      };
    },
  };
}

function initMessage(workflowBundle: WorkflowBundleWithSourceMapAndFilename, isolateExecutionTimeoutMs: number, names: Set<string>): Init {
  // What ThreadedVMWorkflowCreator.create sends each thread it spawns.
  return {
    type: 'init',
    workflowBundle,
    isolateExecutionTimeoutMs,
    reuseV8Context: true,
    registeredActivityNames: names,
    hasPatchActivationCallback: false,
  };
}

interface Sent {
  bundle: WorkflowBundleWithSourceMapAndFilename;
  init: Init;
  /** True once the thread answered ok; false if it failed (the SDK's own path then reports why). */
  done: Promise<boolean>;
}

/** The request WorkerThreadClient would send, as its first; answered before any client listens. */
function initEarly(thread: Thread, early: EarlyInit): Sent {
  const bundle = parseBundle(early.bundlePath);
  const init = initMessage(bundle, early.isolateExecutionTimeoutMs, new Set(early.activityNames));
  const requestId = 0n;
  const done = new Promise<boolean>((resolve) => {
    const onMessage = (m: { requestId?: bigint; result?: { type?: string } }) => {
      if (m?.requestId !== requestId) return;
      thread.off('message', onMessage);
      thread.off('error', onError);
      resolve(m.result?.type === 'ok');
    };
    const onError = () => resolve(false);
    thread.on('message', onMessage);
    thread.once('error', onError);
  });
  thread.postMessage({ requestId, input: init });
  return { bundle, init, done };
}

/** As the SDK reads a bundle file: the code as is, its inline source map parsed. */
function parseBundle(codePath: string): WorkflowBundleWithSourceMapAndFilename {
  const code = readFileSync(codePath, 'utf8');
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  const b64 = at < 0 ? -1 : code.indexOf('base64,', at);
  if (b64 < 0) throw new Error(`${codePath} has no inline source map: rebuild it with "npm run build"`);
  const sourceMap = JSON.parse(
    Buffer.from(code.slice(b64 + 'base64,'.length).trimEnd(), 'base64').toString(),
  ) as WorkflowBundleWithSourceMapAndFilename['sourceMap'];
  return { code, sourceMap, filename: codePath };
}

const sameSet = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
