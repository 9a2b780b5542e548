// The worker process: runs deployment workflows and their activities. It alone holds the secrets
// (SSH private key, known_hosts); they never travel in workflow input or history.
// Start-up is ordered for speed (DESIGN.md, "Worker start-up"): the workflow thread starts first and
// loads and compiles the bundle while this thread loads Temporal's worker; both threads resolve and
// compile npm packages as the build wrote down (the load cache), and this one leaves the SDK's
// bundler and client for later; ssh2, the adapters and the activities load while this thread
// connects and Worker.create runs.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel, NativeConnection, Worker } from '@temporalio/worker';
import { ACTIVITY_NAMES, lateBoundActivities } from './activities/late-bound';
import { connectionOptions, temporalSettings } from './config';
import { secretsFromEnv } from './worker-secrets';
import { describeLoadCacheUse, LOAD_CACHE_FILE, useLoadCache } from './worker-load-cache';
import { deferModules } from './worker-deferred-modules';
import { requireSdk, startWorkflowThread } from './worker-thread';

/**
 * Compiled (dist/worker.js): the workflow bundle that `npm run build` wrote beside it, so start-up
 * runs no webpack. From source (tsx, tests): bundle src/workflows at start, as the SDK does.
 */
export function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) {
    const codePath = path.join(path.dirname(here), 'workflow-bundle.js');
    if (!existsSync(codePath)) throw new Error(`${codePath} is missing: run "npm run build"`);
    return { workflowBundle: { codePath } };
  }
  return { workflowsPath: fileURLToPath(new URL('./workflows/index.ts', import.meta.url)) };
}

/** The SDK's (not an option): a workflow activation still running after this long is a deadlock. */
const DEADLOCK_MS = 5_000;

/** BG_WORKER_TIMING=1: each start-up phase, in ms since the process started, on stderr. */
function startupClock(env: NodeJS.ProcessEnv): (phase: string) => void {
  if (env.BG_WORKER_TIMING !== '1') return () => {};
  return (phase) => console.error(`worker: start-up: ${phase} at ${Math.round(performance.now())} ms`);
}

export async function runWorker(env = process.env): Promise<void> {
  const mark = startupClock(env);
  const level = (env.BG_LOG_LEVEL || 'INFO').toUpperCase();
  if (!['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level))
    throw new Error(`BG_LOG_LEVEL=${env.BG_LOG_LEVEL}: expected one of trace, debug, info, warn, error`);
  // A missing variable is named before anything starts, connects or loads.
  const secrets = secretsFromEnv(env);
  const settings = temporalSettings(env);
  const source = workflowSource();
  const thread =
    'workflowBundle' in source
      ? startWorkflowThread(
          { bundlePath: source.workflowBundle.codePath, isolateExecutionTimeoutMs: DEADLOCK_MS, activityNames: ACTIVITY_NAMES },
          path.join(path.dirname(source.workflowBundle.codePath), 'workflow-thread.js'),
        )
      : startWorkflowThread();
  let worker: Worker | undefined;
  let adapters: { close(): void } | undefined;
  let connection: NativeConnection | undefined;
  let ran = false;
  try {
    // Compiled (dist/): the npm packages resolved and compiled as the build wrote down beside the bundle.
    const cache =
      'workflowBundle' in source ? useLoadCache(path.join(path.dirname(source.workflowBundle.codePath), LOAD_CACHE_FILE), env) : undefined;
    deferModules();
    const { DefaultLogger, NativeConnection, Runtime } = requireSdk();
    const AdoptingWorker = thread.adoptingWorker();
    mark(cache ? `modules loaded (${describeLoadCacheUse(cache)})` : 'modules loaded');
    Runtime.install({ logger: new DefaultLogger(level as LogLevel) });
    // ssh2, the adapters and the activities load while this thread would otherwise wait: for the
    // connection, then for Worker.create's calls to the server. The key and known_hosts are parsed
    // here: a bad one still stops the worker before it polls, and is reported before any other error.
    const loading = import('./worker-deps').then(async ({ realActivities }) => {
      const real = await realActivities(secrets);
      mark('activities ready');
      return real;
    });
    const conn = await NativeConnection.connect(connectionOptions(settings)).catch(async (err: unknown) => {
      await loading;
      throw err;
    });
    connection = conn;
    mark('connected');
    const late = lateBoundActivities();
    const creating = AdoptingWorker.create({
      connection: conn,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      ...source,
      activities: late.activities,
      // Activities heartbeat; on SIGTERM running ones get this long to notice and finish.
      shutdownGraceTime: '10 seconds',
      // Heartbeats leave at least every 3 s, so the 15 s heartbeat timeout survives a rejected one.
      maxHeartbeatThrottleInterval: '3 seconds',
    });
    const [created, loaded] = await Promise.allSettled([creating, loading]);
    if (created.status === 'fulfilled') worker = created.value;
    if (loaded.status === 'fulfilled') adapters = loaded.value;
    // The secrets' error first: it is the user's to fix, and was checked first before this overlap.
    if (loaded.status === 'rejected') throw loaded.reason;
    if (created.status === 'rejected') throw created.reason;
    late.bind(loaded.value.activities);
    mark(thread.adopted() ? 'worker created, on the workflow thread started first' : 'worker created');
    console.log(`worker: task queue ${settings.taskQueue} on ${settings.address} (namespace ${settings.namespace})`);
    // Worker.run() resolves after SIGINT/SIGTERM once in-flight tasks are done (graceful shutdown).
    ran = true;
    const running = created.value.run();
    void import('./worker-warm-up').then(({ warmUp }) => warmUp(conn, settings.namespace, settings.taskQueue, env));
    await running;
  } finally {
    adapters?.close();
    await thread.discard();
    // A worker created but never run keeps its hold on the connection (the SDK has no way to
    // release it); the process exits right after, which closes both.
    if (!worker || ran) await connection?.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runWorker().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
