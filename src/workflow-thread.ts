// Temporal's workflow thread, started before @temporalio/worker has loaded on the main thread.
// Worker.create would spawn it only after that load (about 0.45 s), and the thread then spends
// about 0.3 s loading Temporal's protobufs and the bundle while the main thread waits. Started
// here first, it does that work on the other core while the main thread loads the SDK; Worker.create
// then adopts it (src/worker-run.ts). Node built-ins only: this must cost nothing to load.
//
// It relies on the SDK's internal thread protocol (the `init` request that ThreadedVMWorkflowCreator
// sends), typed from the SDK's own declarations so that an SDK upgrade that changes it does not compile.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';
import type { Init, WorkerThreadRequest } from '@temporalio/worker/lib/workflow/workflow-worker-thread/input';
import type { WorkerThreadResponse } from '@temporalio/worker/lib/workflow/workflow-worker-thread/output';

/** The SDK's default isolateExecutionTimeout ('5s'); the worker adopts the thread only if it is unchanged. */
export const ISOLATE_EXECUTION_TIMEOUT_MS = 5_000;
/** Not one the SDK's client will use (it counts up from 0n), so the two can never be confused. */
const PRESTART_REQUEST_ID = -1n;

export interface PrestartedThread {
  thread: NodeWorker;
  /** What the thread was initialised with; Worker.create must be given the same. */
  init: Init;
  /** Resolves when the thread has loaded the bundle; rejects with the thread's own error. */
  ready: Promise<void>;
}

type Bundle = Init['workflowBundle'];

/**
 * The bundle as the SDK reads a `workflowBundle: { codePath }` (Worker.getOrCreateBundle): the code
 * unchanged and its inline source map parsed, under its absolute path.
 */
export function readWorkflowBundle(codePath: string): Bundle {
  const filename = path.resolve(codePath);
  const code = readFileSync(filename, 'utf8');
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  const b64 = at > 0 ? code.indexOf('base64,', at) : -1;
  if (b64 < 0) throw new Error(`${filename} has no inline source map: rebuild it with "npm run build"`);
  const sourceMap = JSON.parse(Buffer.from(code.slice(b64 + 'base64,'.length).trimEnd(), 'base64').toString()) as Bundle['sourceMap'];
  return { code, sourceMap, filename };
}

export function prestartWorkflowThread(codePath: string, activityNames: readonly string[]): PrestartedThread {
  const init: Init = {
    type: 'init',
    workflowBundle: readWorkflowBundle(codePath),
    isolateExecutionTimeoutMs: ISOLATE_EXECUTION_TIMEOUT_MS,
    reuseV8Context: true,
    registeredActivityNames: new Set(activityNames),
    hasPatchActivationCallback: false,
  };
  const entry = createRequire(import.meta.url).resolve('@temporalio/worker/lib/workflow/workflow-worker-thread');
  const thread = new NodeWorker(entry);
  const ready = new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      thread.off('message', onMessage).off('error', done).off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onMessage = ({ requestId, result }: WorkerThreadResponse) => {
      if (requestId !== PRESTART_REQUEST_ID) return;
      done(result.type === 'ok' ? undefined : new Error(`the workflow thread could not load the bundle: ${result.message}`));
    };
    const onExit = (code: number) => done(new Error(`the workflow thread exited with code ${code} while loading the bundle`));
    thread.on('message', onMessage).on('error', done).on('exit', onExit);
  });
  // Observed by whoever adopts the thread; a process that fails before that exits anyway.
  ready.catch(() => {});
  const request: WorkerThreadRequest = { requestId: PRESTART_REQUEST_ID, input: init };
  thread.postMessage(request);
  return { thread, init, ready };
}
