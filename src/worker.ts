// The worker process: runs deployment workflows and their activities. It alone holds the secrets
// (SSH private key, known_hosts); they never travel in workflow input or history.
// Start-up is ordered for speed (DESIGN.md, "Start-up on two threads"): this module loads Node built-ins
// only, checks the environment, starts Temporal's workflow thread, and only then loads Temporal's
// worker (src/worker-run.ts), which loads ssh2, the adapters and the activities last.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTIVITY_NAMES } from './activities/late-bound';
import { temporalSettings } from './config';
import { secretsFromEnv } from './worker-secrets';
import { prestartWorkflowThread } from './workflow-thread';

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

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
  mark('started');
  const level = (env.BG_LOG_LEVEL || 'INFO').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new Error(`BG_LOG_LEVEL=${env.BG_LOG_LEVEL}: expected one of trace, debug, info, warn, error`);
  // A missing variable or unreadable TLS file is named before anything starts.
  const secrets = secretsFromEnv(env);
  const settings = temporalSettings(env);
  const workflows = workflowSource();
  const prestarted = 'workflowBundle' in workflows ? prestartWorkflowThread(workflows.workflowBundle.codePath, ACTIVITY_NAMES) : undefined;
  mark('workflow thread started');
  const { runWorker: run } = await import('./worker-run');
  await run({ level: level as (typeof LOG_LEVELS)[number], settings, secrets, workflows, prestarted, mark });
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
