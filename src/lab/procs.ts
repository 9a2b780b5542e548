// Processes and ports: start detached daemons, find and stop them by PID, probe listeners.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts a long-lived process that outlives this one: own session, output appended to a log file. */
export function spawnDetached(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): number {
  const out = fs.openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: env ?? process.env });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    return child.pid;
  } finally {
    fs.closeSync(out);
  }
}

export function isAlive(pid: number | undefined): pid is number {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie (exited, not yet reaped by its parent) holds no resources: count it as gone.
  return procState(pid) !== 'Z';
}

/** One-letter state from /proc (R, S, T stopped, Z zombie...), undefined where /proc is missing. */
export function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The direct children of these processes (an sshd listener's are its connections, one process each). */
export function childrenOf(pids: number[]): number[] {
  const parents = new Set(pids);
  return processTable()
    .filter(([, ppid]) => parents.has(ppid))
    .map(([child]) => child);
}

/** Every descendant of the given PIDs (sshd forks a session process per connection, and those call setsid). */
export function descendants(pids: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of processTable()) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const queue = [...pids];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * The processes of these trees, each frozen (SIGSTOP) so that none can fork a child that the
 * snapshot misses: a child forked after the snapshot and before its parent is killed would be
 * re-parented to init and survive. Re-reads the tree until it stops growing. stopPids thaws them.
 */
export function freezeTrees(roots: number[]): number[] {
  const seen = new Set<number>();
  let frontier = roots;
  while (frontier.length) {
    for (const pid of frontier) {
      seen.add(pid);
      signal(pid, 'SIGSTOP');
    }
    frontier = descendants([...seen]).filter((pid) => !seen.has(pid));
  }
  return [...seen];
}

function processTable(): [number, number][] {
  if (fs.existsSync('/proc/self/stat')) {
    const rows: [number, number][] = [];
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        rows.push([Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])]);
      } catch {
        // exited while we looked
      }
    }
    return rows;
  }
  const ps = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  return ps
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
}

/**
 * Stops processes: SIGCONT first (a frozen process cannot act on SIGTERM), then SIGTERM, then
 * SIGKILL after the grace period. Resolves when all are gone.
 */
export async function stopPids(pids: number[], graceMs = 5000): Promise<number[]> {
  const targets = [...new Set(pids.filter((p) => isAlive(p)))];
  // TERM before CONT: a stopped (frozen) process then sees TERM before it runs again, so it cannot
  // fork a child in between.
  for (const pid of targets) signal(pid, 'SIGTERM');
  for (const pid of targets) signal(pid, 'SIGCONT');
  const deadline = Date.now() + graceMs;
  while (targets.some(isAlive) && Date.now() < deadline) await sleep(25);
  for (const pid of targets.filter(isAlive)) signal(pid, 'SIGKILL');
  while (targets.some(isAlive)) await sleep(25);
  return targets;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Resolves once something accepts TCP connections on the port and, if given, sends `banner` first. */
export async function waitForListener(port: number, timeoutMs: number, banner?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probeTcp(port, banner)) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(30);
  }
}

function probeTcp(port: number, banner?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => (banner ? undefined : done(true)));
    if (banner) sock.once('data', (d) => done(d.toString('latin1').startsWith(banner)));
  });
}

/** Runs async jobs with at most `limit` at a time (2 cores: unbounded spawning only thrashes). */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
