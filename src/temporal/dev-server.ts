// Starts and stops a real `temporal server start-dev` (tests, the demo). Owns its process by PID.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_DECLARATIONS } from '../workflows/search-attributes';

const execFileAsync = promisify(execFile);

export interface DevServerOptions {
  /** gRPC port; 0 picks a free one. */
  port?: number;
  /** Web UI port; omit for a headless server. */
  uiPort?: number;
  /** Persist state in this SQLite file so runs survive a server restart. */
  dbFile?: string;
  namespace?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Extra output of the server goes here (e.g. a log file stream); default: dropped. */
  onOutput?: (chunk: string) => void;
}

export interface DevServer {
  address: string;
  port: number;
  uiPort?: number;
  pid: number;
  cliPath: string;
  stop(): Promise<void>;
}

export async function temporalCliPath(): Promise<string> {
  const script = fileURLToPath(new URL('../../scripts/temporal-cli.sh', import.meta.url));
  const { stdout } = await execFileAsync('bash', [script], { maxBuffer: 1 << 20 });
  const path = stdout.trim().split('\n').pop();
  if (!path) throw new Error('scripts/temporal-cli.sh printed no path');
  return path;
}

/**
 * Eager activity dispatch: when a workflow task schedules an activity for the same task queue, the
 * server hands it back to that worker in the completion's reply instead of through a poll. A step
 * is a chain of short activities, so this saves a matching round trip at each link (DESIGN.md,
 * "Round trips"). Off by default in the server; the stack's dynamic config sets it too.
 */
export const EAGER_DYNAMIC_CONFIG = ['system.enableActivityEagerExecution=true'];

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  if (addr === null || typeof addr === 'string') throw new Error('could not allocate a port');
  return addr.port;
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cliPath = await temporalCliPath();
  const port = opts.port || (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', opts.logLevel ?? 'warn'];
  args.push('--namespace', opts.namespace ?? 'default');
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_DECLARATIONS)) args.push('--search-attribute', `${name}=${type}`);
  for (const setting of EAGER_DYNAMIC_CONFIG) args.push('--dynamic-config-value', setting);

  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (b: Buffer) => {
    const s = b.toString();
    output.push(s);
    if (output.length > 200) output.shift();
    opts.onOutput?.(s);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const address = `127.0.0.1:${port}`;
  try {
    await waitReachable(child, address, 60_000);
  } catch (err) {
    await killAndWait(child);
    throw new Error(`${(err as Error).message}\nserver output:\n${output.join('').slice(-4000)}`);
  }
  return {
    address,
    port,
    uiPort: opts.uiPort,
    pid: child.pid ?? -1,
    cliPath,
    stop: () => killAndWait(child),
  };
}

async function waitReachable(child: ChildProcess, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`temporal server exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return;
      } finally {
        await conn.close();
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`temporal server at ${address} not reachable after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function killAndWait(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
