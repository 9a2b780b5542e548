// The Temporal server of the stack: go.temporal.io/server's own `cmd/server` (not the dev server),
// on PostgreSQL for both persistence and visibility. Provisioned by scripts/temporal-server.sh,
// configured by a YAML file written here, schema set up with the module's own SQL schema tool.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import YAML from 'yaml';
import { isAlive, signal, sleep, spawnDetached } from '../lab/procs';
import { SEARCH_ATTRIBUTE_DECLARATIONS } from '../workflows/search-attributes';
import type { PgCluster } from './postgres';

const execFileAsync = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_VERSION = 'v2.42.1';
export const DATABASES = { persistence: 'temporal', visibility: 'temporal_visibility' } as const;
/** Few shards: one history host on 2 cores. Fixed for the life of a cluster (it is in the database). */
export const NUM_HISTORY_SHARDS = 4;

export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

const script = fileURLToPath(new URL('../../scripts/temporal-server.sh', import.meta.url));

async function runScript(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('bash', [script, ...args], { maxBuffer: 1 << 20 });
  const out = stdout.trim().split('\n').pop();
  if (!out) throw new Error(`scripts/temporal-server.sh ${args.join(' ')} printed no path`);
  return out;
}

/** The directory with temporal-server, temporal-sql-tool and schema/ (building them the first time). */
export function temporalServerDir(): Promise<string> {
  return runScript([]);
}

/** The standalone Temporal Web binary (building it the first time); undefined if it cannot be had. */
export async function temporalUiServerPath(onError?: (message: string) => void): Promise<string | undefined> {
  try {
    return await runScript(['ui']);
  } catch (err) {
    onError?.((err as Error).message);
    return undefined;
  }
}

/** Creates both databases and brings their schemas to the latest version, with the module's own tool and files. */
export async function setupSchema(serverDir: string, pg: PgCluster): Promise<void> {
  const tool = path.join(serverDir, 'temporal-sql-tool');
  const schemaRoot = path.join(serverDir, 'schema', 'postgresql', 'v12');
  const base = ['--plugin', 'postgres12', '--endpoint', '127.0.0.1', '--port', String(pg.port), '--user', pg.user];
  // The password goes through the environment (the tool reads SQL_PASSWORD), not the command line.
  const env = { ...process.env, SQL_PASSWORD: pg.password };
  const run = async (args: string[]) => {
    try {
      await execFileAsync(tool, [...base, ...args], { env, maxBuffer: 4 << 20 });
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw new Error(`temporal-sql-tool ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trim());
    }
  };
  for (const [db, dirName] of [
    [DATABASES.persistence, 'temporal'],
    [DATABASES.visibility, 'visibility'],
  ] as const) {
    await run(['--database', db, 'create-database']);
    await run(['--database', db, 'setup-schema', '-v', '0.0']);
    await run(['--database', db, 'update-schema', '-d', path.join(schemaRoot, dirName, 'versioned')]);
  }
}

/** The server's static config (config/<env>.yaml): PostgreSQL for persistence and visibility, loopback ports. */
export function serverConfig(opts: { ports: ServerPorts; pg: PgCluster; dynamicConfigFile: string; logLevel?: string }): string {
  const { ports, pg } = opts;
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${pg.port}`,
      connectProtocol: 'tcp',
      user: pg.user,
      password: pg.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...(httpPort ? { httpPort } : {}) },
  });
  const config = {
    log: { stdout: true, level: opts.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: NUM_HISTORY_SHARDS,
      datastores: { 'postgres-default': datastore(DATABASES.persistence, 20), 'postgres-visibility': datastore(DATABASES.visibility, 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, ports.frontendHttp),
      matching: service(ports.matching, ports.matchingMembership),
      history: service(ports.history, ports.historyMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.frontend}` },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: opts.dynamicConfigFile, pollInterval: '10s' },
  };
  return `# Written by bluegreen's stack (src/stack/temporal-server.ts). Temporal server ${TEMPORAL_SERVER_VERSION}.\n${YAML.stringify(config)}`;
}

/**
 * Dynamic config: the server's defaults, but a visibility rate fit for a CLI that lists runs, and
 * eager activity dispatch (see EAGER_DYNAMIC_CONFIG in src/temporal/dev-server.ts).
 */
export function dynamicConfig(): string {
  return [
    '# Dynamic config of the bluegreen stack (polled every 10 s; see the server docs for keys).',
    'frontend.namespaceRPS.visibility:',
    '  - value: 50',
    'limit.maxIDLength:',
    '  - value: 255',
    'system.enableActivityEagerExecution:',
    '  - value: true',
    '',
  ].join('\n');
}

/** Starts `temporal-server start` detached (own session, output to logFile). Returns its PID. */
export function spawnTemporalServer(serverDir: string, root: string, env: string, logFile: string): number {
  // --root/--config/--env: the config is <root>/config/<env>.yaml. --allow-no-auth: this stack has
  // no authorizer (loopback only); a real cluster configures one (see README).
  return spawnDetached(
    path.join(serverDir, 'temporal-server'),
    ['--root', root, '--config', 'config', '--env', env, '--allow-no-auth', 'start'],
    logFile,
  );
}

/** Waits until the frontend answers and the namespace is usable. */
export async function waitForFrontend(address: string, pid: number, timeoutMs: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid)) throw new Error(`temporal-server (pid ${pid}) exited during start${logFile ? `:\n${tail(logFile)}` : ''}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        await conn.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
        return;
      } finally {
        await conn.close();
      }
    } catch {
      if (Date.now() > deadline)
        throw new Error(`Temporal frontend at ${address} not reachable after ${timeoutMs} ms${logFile ? `:\n${tail(logFile)}` : ''}`);
      await sleep(250);
    }
  }
}

/** Creates the namespace and our search attributes with the Temporal CLI, as an operator would. */
export async function setupNamespace(
  cliPath: string,
  address: string,
  namespace: string,
  log: (m: string) => void = () => {},
): Promise<void> {
  const cli = async (args: string[]) => {
    const { stdout } = await execFileAsync(cliPath, [...args, '--address', address], { maxBuffer: 4 << 20 });
    return stdout;
  };
  const exists = await cli(['operator', 'namespace', 'describe', '--namespace', namespace]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await cli(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '72h']);
    log(`namespace ${namespace} created`);
  }
  // The namespace registry refreshes every few seconds: wait until the frontend knows it.
  await retry(`namespace ${namespace}`, 60_000, () => cli(['operator', 'namespace', 'describe', '--namespace', namespace]));
  const names = Object.keys(SEARCH_ATTRIBUTE_DECLARATIONS);
  // Describe reads the database; the operator API needs the namespace in the frontend's cache.
  const listed = await retry('search attribute list', 60_000, () =>
    cli(['operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json']),
  );
  const missing = names.filter((n) => !listed.includes(`"${n}"`));
  if (missing.length) {
    const args = ['operator', 'search-attribute', 'create', '--namespace', namespace];
    for (const n of missing) args.push('--name', n, '--type', SEARCH_ATTRIBUTE_DECLARATIONS[n]!);
    await retry('search attribute create', 60_000, () => cli(args));
    log(`search attributes ${missing.join(', ')} created`);
  }
  // SQL visibility keeps custom search attributes in the namespace record: wait until a list query
  // using every one of them is accepted (the frontend's cached copy of the namespace has them).
  const query = names.map((n) => `${n} = 'probe'`).join(' AND ');
  await retry('search attributes', 60_000, () => cli(['workflow', 'list', '--namespace', namespace, '--query', query, '--limit', '1']));
  // The history service caches the namespace separately; give its refresh (2 s by default) a turn.
  await sleep(2500);
}

async function retry<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(
          `${what} not ready after ${timeoutMs} ms: ${(err as Error & { stderr?: string }).stderr ?? (err as Error).message}`,
        );
      await sleep(500);
    }
  }
}

/** Stops a server by PID: SIGTERM (it drains and leaves the membership ring), SIGKILL after the grace period. */
export async function stopByPid(pid: number | undefined, graceMs = 15_000, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!isAlive(pid)) return;
  signal(pid, sig);
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

function tail(file: string, chars = 3000): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}
