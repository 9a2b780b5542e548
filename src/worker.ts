// The worker process: runs deployment workflows and their activities. It alone holds the secrets
// (SSH private key, known_hosts); they never travel in workflow input or history.
// Start-up is ordered for speed (DESIGN.md, "Worker start-up"): only Temporal's worker loads before
// Worker.create; ssh2, the adapters and the activities load while the workflow thread starts.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { lateBoundActivities } from './activities/late-bound';
import { connectionOptions, temporalSettings } from './config';
import { secretsFromEnv } from './worker-secrets';

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

/** BG_WORKER_TIMING=1: each start-up phase, in ms since the process started, on stderr. */
function startupClock(env: NodeJS.ProcessEnv): (phase: string) => void {
  if (env.BG_WORKER_TIMING !== '1') return () => {};
  return (phase) => console.error(`worker: start-up: ${phase} at ${Math.round(performance.now())} ms`);
}

export async function runWorker(env = process.env): Promise<void> {
  const mark = startupClock(env);
  mark('modules loaded');
  const level = (env.BG_LOG_LEVEL || 'INFO').toUpperCase();
  if (!['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level))
    throw new Error(`BG_LOG_LEVEL=${env.BG_LOG_LEVEL}: expected one of trace, debug, info, warn, error`);
  // A missing variable is named before anything connects or loads.
  const secrets = secretsFromEnv(env);
  const settings = temporalSettings(env);
  Runtime.install({ logger: new DefaultLogger(level as LogLevel) });
  const connection = await NativeConnection.connect(connectionOptions(settings));
  mark('connected');
  const late = lateBoundActivities();
  let worker: Worker | undefined;
  let adapters: { close(): void } | undefined;
  let ran = false;
  try {
    const creating = Worker.create({
      connection,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      ...workflowSource(),
      activities: late.activities,
      // Activities heartbeat; on SIGTERM running ones get this long to notice and finish.
      shutdownGraceTime: '10 seconds',
      // Heartbeats leave at least every 3 s, so the 15 s heartbeat timeout survives a rejected one.
      maxHeartbeatThrottleInterval: '3 seconds',
    });
    // Asked for after Worker.create has begun: its part on this thread (compiling the bundle,
    // spawning the workflow thread) goes first, then this loads while that thread starts. The key
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
    const running = created.value.run();
    void import('./worker-warm-up').then(({ warmUp }) => warmUp(connection, settings.namespace, settings.taskQueue, env));
    await running;
  } finally {
    adapters?.close();
    // A worker created but never run keeps its hold on the connection (the SDK has no way to
    // release it); the process exits right after, which closes both.
    if (!worker || ran) await connection.close();
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
