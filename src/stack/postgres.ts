// A throwaway PostgreSQL cluster for the stack: initdb into its own directory, its own port on
// 127.0.0.1, its own socket directory, no system service. Run as the `postgres` OS user when we are
// root (PostgreSQL refuses to run as root). Stopped and restarted by the postmaster's PID.
import { execFile, execFileSync, type ExecFileOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { isAlive, signal, sleep } from '../lab/procs';

const execFileAsync = promisify(execFile);

export interface PgCluster {
  /** The cluster's own directory: data/, socket/, postgres.log. */
  dir: string;
  port: number;
  user: string;
  password: string;
}

export const pgPaths = (dir: string) => ({
  data: path.join(dir, 'data'),
  socket: path.join(dir, 'socket'),
  log: path.join(dir, 'postgres.log'),
  pidFile: path.join(dir, 'data', 'postmaster.pid'),
});

/** The directory with initdb, pg_ctl, pg_isready: $BG_PG_BIN, the newest Debian install, or PATH. */
export function pgBinDir(): string {
  const fromEnv = process.env.BG_PG_BIN;
  if (fromEnv) {
    if (!fs.existsSync(path.join(fromEnv, 'initdb'))) throw new Error(`BG_PG_BIN=${fromEnv}: no initdb there`);
    return fromEnv;
  }
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => fs.existsSync(path.join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (initdb) return path.dirname(initdb);
  } catch {
    // not on PATH
  }
  throw new Error(
    'PostgreSQL not found: install it (Debian: apt-get install postgresql; macOS: brew install postgresql@15) or set BG_PG_BIN',
  );
}

/** As root, PostgreSQL runs as the `postgres` user: its uid/gid. Otherwise undefined (run as ourselves). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error("running as root, but there is no `postgres` user to run PostgreSQL as (Debian's postgresql package creates it)");
  }
}

async function pgRun(bin: string, args: string[], opts: ExecFileOptions = {}): Promise<string> {
  const owner = runAs();
  try {
    const { stdout } = await execFileAsync(path.join(pgBinDir(), bin), args, {
      cwd: '/', // the postgres user may not be allowed into ours
      ...opts,
      ...(owner ?? {}),
      // LC_ALL=C: initdb's locale checks need a locale that exists on every machine.
      env: { PATH: process.env.PATH, LC_ALL: 'C', LANG: 'C', ...(owner ? { HOME: '/tmp' } : { HOME: process.env.HOME }) },
      maxBuffer: 4 << 20,
      encoding: 'utf8',
    });
    return String(stdout);
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`.trim());
  }
}

/** Hands a path to the postgres user (as root) so that the cluster can write there. */
function ownDir(p: string): void {
  const owner = runAs();
  fs.mkdirSync(p, { recursive: true, mode: 0o700 });
  if (owner) fs.chownSync(p, owner.uid, owner.gid);
}

/**
 * Creates the cluster (initdb) with one password-protected superuser for Temporal. TCP connections
 * on 127.0.0.1 need the password (scram-sha-256); the Unix socket sits in a directory only the
 * cluster's owner can enter.
 */
export async function pgInit(c: PgCluster): Promise<void> {
  const p = pgPaths(c.dir);
  // The postgres user must be able to reach its directory: the parent is ours, so open it for traversal.
  fs.mkdirSync(c.dir, { recursive: true });
  fs.chmodSync(c.dir, 0o711);
  ownDir(p.data);
  ownDir(p.socket);
  const pwFile = path.join(p.socket, '.pw');
  fs.writeFileSync(pwFile, `${c.password}\n`, { mode: 0o600 });
  const owner = runAs();
  if (owner) fs.chownSync(pwFile, owner.uid, owner.gid);
  try {
    await pgRun('initdb', [
      '-D',
      p.data,
      '-U',
      c.user,
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '-E',
      'UTF8',
      '--no-locale',
    ]);
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
  fs.appendFileSync(
    path.join(p.data, 'postgresql.conf'),
    [
      '',
      '# bluegreen stack: a private cluster on loopback, its socket in its own directory',
      `port = ${c.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${p.socket}'`,
      'max_connections = 200',
      "log_min_messages = 'warning'",
      '',
    ].join('\n'),
  );
}

/** Starts the cluster with pg_ctl (it daemonizes) and waits until it accepts connections. Returns the postmaster PID. */
export async function pgStart(c: PgCluster): Promise<number> {
  const p = pgPaths(c.dir);
  if (!fs.existsSync(p.log)) {
    fs.writeFileSync(p.log, '');
    const owner = runAs();
    if (owner) fs.chownSync(p.log, owner.uid, owner.gid);
  }
  await pgRun('pg_ctl', ['-D', p.data, '-l', p.log, '-w', '-t', '60', 'start']);
  await pgWaitReady(c, 30_000);
  const pid = pgPid(c.dir);
  if (!pid) throw new Error(`PostgreSQL started but ${p.pidFile} names no running postmaster`);
  return pid;
}

/** The postmaster's PID from postmaster.pid, if it is running. */
export function pgPid(dir: string): number | undefined {
  let pid: number | undefined;
  try {
    // postmaster.pid: the PID on the first line, then data dir, start time, port, socket dir...
    pid = Number(fs.readFileSync(pgPaths(dir).pidFile, 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
}

export async function pgReady(c: PgCluster): Promise<boolean> {
  try {
    await execFileAsync(path.join(pgBinDir(), 'pg_isready'), ['-h', '127.0.0.1', '-p', String(c.port), '-U', c.user, '-t', '2']);
    return true;
  } catch {
    return false;
  }
}

async function pgWaitReady(c: PgCluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pgReady(c))) {
    if (Date.now() > deadline)
      throw new Error(`PostgreSQL on 127.0.0.1:${c.port} not ready after ${timeoutMs} ms (log: ${pgPaths(c.dir).log})`);
    await sleep(200);
  }
}

/**
 * Stops the cluster by its postmaster's PID. `fast` (SIGINT): clients are disconnected, open
 * transactions rolled back, a clean checkpoint. `immediate` (SIGQUIT): no checkpoint, crash recovery
 * on the next start. After the grace period: SIGKILL of the postmaster and its children.
 */
export async function pgStop(dir: string, mode: 'fast' | 'immediate' = 'fast', graceMs = 30_000): Promise<void> {
  const pid = pgPid(dir);
  if (!pid) return;
  const children = childPids(pid);
  signal(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) for (const p of [pid, ...childPids(pid)]) signal(p, 'SIGKILL');
  // The postmaster's children (backends, checkpointer...) exit with it; wait until they have.
  while ([pid, ...children].some(isAlive)) await sleep(50);
}

/** A fast shutdown and a start again on the same data directory, port and socket. */
export async function pgRestart(c: PgCluster, downMs = 0): Promise<number> {
  await pgStop(c.dir, 'fast');
  if (downMs) await sleep(downMs);
  return pgStart(c);
}

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
