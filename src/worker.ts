// The worker process: runs deployment workflows and their activities. It alone holds the secrets
// (SSH private key, known_hosts); they never travel in workflow input or history.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities } from './activities';
import { lbFromConfig } from './adapters/load-balancer';
import { checkHealth, smokeSession, smokeTest } from './adapters/http/checks';
import { knownHostsFile, loadKnownHosts } from './adapters/ssh/known-hosts';
import { createSshClient } from './adapters/ssh/client';
import { webhooksFromEnv } from './adapters/http/webhooks';
import type { ActivityDeps } from './activities/deps';
import { connectionOptions, temporalSettings } from './config';

export interface WorkerSecrets {
  sshKeyPath: string;
  knownHostsPath: string;
  /** Passphrase of an encrypted private key (BG_SSH_KEY_PASSPHRASE or the file BG_SSH_KEY_PASSPHRASE_FILE). */
  sshKeyPassphrase?: string;
}

export function secretsFromEnv(env = process.env): WorkerSecrets {
  const sshKeyPath = env.BG_SSH_KEY;
  const knownHostsPath = env.BG_KNOWN_HOSTS;
  if (!sshKeyPath) throw new Error('BG_SSH_KEY is not set: the path of the SSH private key the worker logs in with');
  if (!knownHostsPath) throw new Error("BG_KNOWN_HOSTS is not set: the known_hosts file with the hosts' pinned keys");
  if (env.BG_SSH_KEY_PASSPHRASE && env.BG_SSH_KEY_PASSPHRASE_FILE)
    throw new Error('BG_SSH_KEY_PASSPHRASE and BG_SSH_KEY_PASSPHRASE_FILE are both set: set one');
  let sshKeyPassphrase = env.BG_SSH_KEY_PASSPHRASE || undefined;
  if (env.BG_SSH_KEY_PASSPHRASE_FILE) {
    try {
      sshKeyPassphrase = readFileSync(env.BG_SSH_KEY_PASSPHRASE_FILE, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(
        `BG_SSH_KEY_PASSPHRASE_FILE=${env.BG_SSH_KEY_PASSPHRASE_FILE}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  return { sshKeyPath, knownHostsPath, sshKeyPassphrase };
}

/** The real dependencies: ssh2 with pinned host keys, the plan's LB (HAProxy's Runtime API, or nginx over SSH), HTTP checks. */
export async function realDeps(secrets: WorkerSecrets): Promise<{ deps: ActivityDeps; close(): void }> {
  const knownHosts = await loadKnownHosts(secrets.knownHostsPath);
  // Lines the parser could not use would otherwise go unnoticed until a host is refused.
  for (const w of knownHosts.warnings) console.warn(`worker: ${secrets.knownHostsPath}: ${w}`);
  const ssh = createSshClient({
    privateKey: readFileSync(secrets.sshKeyPath),
    passphrase: secrets.sshKeyPassphrase,
    knownHosts: knownHostsFile(secrets.knownHostsPath, knownHosts, (w) => console.warn(`worker: ${w}`)),
  });
  return {
    // Webhook URLs are read from the environment (or the file it names) when a run notifies, not here.
    deps: {
      ssh,
      lb: (config) => lbFromConfig(config, { ssh }),
      http: { checkHealth, smokeTest, smokeSession },
      webhooks: webhooksFromEnv(process.env),
    },
    close: () => ssh.close(),
  };
}

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

export async function runWorker(env = process.env): Promise<void> {
  const level = (env.BG_LOG_LEVEL || 'INFO').toUpperCase();
  if (!['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level))
    throw new Error(`BG_LOG_LEVEL=${env.BG_LOG_LEVEL}: expected one of trace, debug, info, warn, error`);
  Runtime.install({ logger: new DefaultLogger(level as LogLevel) });
  const settings = temporalSettings(env);
  const { deps, close } = await realDeps(secretsFromEnv(env));
  const connection = await NativeConnection.connect(connectionOptions(settings));
  try {
    const worker = await Worker.create({
      connection,
      namespace: settings.namespace,
      taskQueue: settings.taskQueue,
      ...workflowSource(),
      activities: createActivities(deps),
      // Activities heartbeat; on SIGTERM running ones get this long to notice and finish.
      shutdownGraceTime: '10 seconds',
      // Heartbeats leave at least every 3 s, so the 15 s heartbeat timeout survives a rejected one.
      maxHeartbeatThrottleInterval: '3 seconds',
    });
    console.log(`worker: task queue ${settings.taskQueue} on ${settings.address} (namespace ${settings.namespace})`);
    // Worker.run() resolves after SIGINT/SIGTERM once in-flight tasks are done (graceful shutdown).
    await worker.run();
  } finally {
    close();
    await connection.close();
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
