// `npm run stack -- up|down|status`: the production-shaped topology on one machine, without Docker.
// PostgreSQL (a throwaway cluster), the Temporal server on it (persistence and SQL visibility),
// Temporal Web, and N bluegreen workers on one task queue. Everything it starts is recorded by PID
// in <dir>/state.json; `down` stops exactly those and removes what `up` created.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../config';
import { labPaths, repoRoot } from '../lab/layout';
import { isAlive, isPortFree, sleep } from '../lab/procs';
import { packageRoot } from '../paths';
import { temporalCliPath } from '../temporal/dev-server';
import { pgInit, pgPid, pgReady, pgRestart, pgStart, pgStop, type PgCluster } from './postgres';
import {
  dynamicConfig,
  serverConfig,
  setupNamespace,
  setupSchema,
  spawnTemporalServer,
  stopByPid,
  temporalServerDir,
  temporalUiServerPath,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_VERSION,
  waitForFrontend,
  type ServerPorts,
} from './temporal-server';
import { spawnUiServer, uiConfig, waitForUi } from './ui';
import { spawnStackWorker } from './worker';

const execFileAsync = promisify(execFile);
const SERVER_ENV = 'stack';

export interface StackOptions {
  dir?: string;
  /** Frontend gRPC port; 0 = any free port. Default 7233. */
  port?: number;
  /** Temporal Web port; 0 = any free port. Default 8233. */
  uiPort?: number;
  /** Start Temporal Web (when it can be built). Default true. */
  ui?: boolean;
  pgPort?: number;
  workers?: number;
  namespace?: string;
  taskQueue?: string;
  sshKey?: string;
  knownHosts?: string;
  log?: (message: string) => void;
}

export interface StackWorker {
  index: number;
  pid: number;
  log: string;
}

export interface StackState {
  dir: string;
  startedAt: string;
  namespace: string;
  taskQueue: string;
  pg: { dir: string; port: number; user: string; pid?: number; log: string };
  server: { version: string; dir: string; pid?: number; ports: ServerPorts; root: string; log: string };
  ui?: { version: string; pid?: number; port: number; url: string; root: string; log: string };
  /** Why there is no Temporal Web, when there is none. */
  uiSkipped?: string;
  workerEnv?: { BG_SSH_KEY: string; BG_KNOWN_HOSTS: string };
  workers: StackWorker[];
  /** How long `up` took, by phase, in ms. */
  timings: Record<string, number>;
}

export function defaultStackDir(): string {
  return path.resolve(process.env.BG_STACK_DIR || path.join(repoRoot, '.stack'));
}

export const stackPaths = (dir: string) => ({
  state: path.join(dir, 'state.json'),
  pgPassword: path.join(dir, 'pg-password'),
  serverRoot: path.join(dir, 'temporal'),
  serverConfig: path.join(dir, 'temporal', 'config', `${SERVER_ENV}.yaml`),
  dynamicConfig: path.join(dir, 'temporal', 'config', 'dynamicconfig.yaml'),
  uiRoot: path.join(dir, 'ui'),
  uiConfig: path.join(dir, 'ui', 'config', `${SERVER_ENV}.yaml`),
  logs: path.join(dir, 'logs'),
});

export function readStackState(dir = defaultStackDir()): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stackPaths(dir).state, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

function writeState(s: StackState): void {
  const file = stackPaths(s.dir).state;
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export const frontendAddress = (s: StackState) => `127.0.0.1:${s.server.ports.frontend}`;

export function pgCluster(s: StackState): PgCluster {
  return { dir: s.pg.dir, port: s.pg.port, user: s.pg.user, password: fs.readFileSync(stackPaths(s.dir).pgPassword, 'utf8').trim() };
}

/**
 * A free port below 32768: Temporal stores membership ports in a SMALLINT column (a port from the
 * ephemeral range fails with `value "39831" is out of range for type smallint`). 15000-21999 keeps
 * clear of the lab's ports (22000 and up) and of the ephemeral range.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 15000 + Math.floor(Math.random() * 7000);
    if (!taken.has(p) && (await isPortFree(p))) return p;
  }
  throw new Error('no free port found in 15000-21999');
}

async function port(wanted: number | undefined, fallback: number, what: string, taken: Set<number>): Promise<number> {
  const want = wanted ?? fallback;
  let p = want;
  if (want === 0) {
    p = await freeLowPort(taken);
  } else if (!(await isPortFree(want))) {
    throw new Error(`port ${want} (${what}) is in use: pick another, or 0 for any free port`);
  }
  taken.add(p);
  return p;
}

/** Where the workers' secrets come from: options, then BG_SSH_KEY/BG_KNOWN_HOSTS, then a lab in .lab/. */
function workerSecrets(o: StackOptions): { BG_SSH_KEY: string; BG_KNOWN_HOSTS: string } | undefined {
  const key = o.sshKey ?? process.env.BG_SSH_KEY;
  const known = o.knownHosts ?? process.env.BG_KNOWN_HOSTS;
  if (key && known) return { BG_SSH_KEY: path.resolve(key), BG_KNOWN_HOSTS: path.resolve(known) };
  const lab = labPaths(path.resolve(process.env.BG_LAB_DIR || path.join(repoRoot, '.lab')));
  if (!key && !known && fs.existsSync(lab.key) && fs.existsSync(lab.knownHosts))
    return { BG_SSH_KEY: lab.key, BG_KNOWN_HOSTS: lab.knownHosts };
  return undefined;
}

/** The compiled worker is what runs: build it first when running from a clone. */
async function ensureBuilt(log: (m: string) => void): Promise<void> {
  const script = path.join(packageRoot, 'scripts', 'build.mjs');
  if (!fs.existsSync(script)) return; // an installed package ships dist/ already built
  log('building dist/ (compiled worker, workflow bundle)');
  await execFileAsync(process.execPath, [script], { cwd: packageRoot, maxBuffer: 16 << 20 });
}

export interface StackUpResult {
  state: StackState;
  alreadyUp: boolean;
  elapsedMs: number;
}

export async function stackUp(o: StackOptions = {}): Promise<StackUpResult> {
  const t0 = Date.now();
  const dir = path.resolve(o.dir ?? defaultStackDir());
  const log = o.log ?? (() => {});
  const existing = readStackState(dir);
  if (existing) {
    const st = await stackStatus(dir);
    if (st.up) return { state: existing, alreadyUp: true, elapsedMs: Date.now() - t0 };
    throw new Error(`a stack in ${dir} is recorded but not fully up (${st.problems.join('; ')}): run "npm run stack -- down" first`);
  }
  const workers = o.workers ?? 2;
  const secrets = workerSecrets(o);
  if (workers > 0 && !secrets)
    throw new Error('workers need BG_SSH_KEY and BG_KNOWN_HOSTS (or --ssh-key/--known-hosts, or a lab in .lab/); use --workers 0 for none');
  for (const f of secrets ? Object.values(secrets) : []) if (!fs.existsSync(f)) throw new Error(`${f}: no such file`);

  const timings: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const v = await fn();
    timings[name] = Date.now() - t;
    log(`${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    return v;
  };

  // Binaries first (the first time this builds them: minutes), before anything is started.
  const [serverDir, cliPath, uiBinary] = await phase('binaries', async () => {
    const uiErrors: string[] = [];
    const server = await temporalServerDir();
    const cli = await temporalCliPath();
    const ui = o.ui === false ? undefined : await temporalUiServerPath((m) => uiErrors.push(m));
    if (o.ui !== false && !ui) log(`Temporal Web unavailable: ${uiErrors.join(' ').slice(0, 300)}`);
    return [server, cli, ui] as const;
  });
  if (workers > 0) await phase('build', () => ensureBuilt(log));

  const taken = new Set<number>();
  const ports: ServerPorts = {
    frontend: await port(o.port, 7233, 'Temporal frontend', taken),
    frontendHttp: await port(0, 0, '', taken),
    frontendMembership: await port(0, 0, '', taken),
    history: await port(0, 0, '', taken),
    historyMembership: await port(0, 0, '', taken),
    matching: await port(0, 0, '', taken),
    matchingMembership: await port(0, 0, '', taken),
    worker: await port(0, 0, '', taken),
    workerMembership: await port(0, 0, '', taken),
  };
  const uiPort = uiBinary ? await port(o.uiPort, 8233, 'Temporal Web', taken) : 0;
  const pgPort = await port(o.pgPort, 0, 'PostgreSQL', taken);

  fs.mkdirSync(dir, { recursive: true });
  const p = stackPaths(dir);
  fs.mkdirSync(p.logs, { recursive: true });
  // The cluster lives in a temp dir of its own: as root it runs as `postgres`, which must be able to
  // reach it (a checkout under /root would not be reachable).
  const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-stack-pg-'));
  const password = randomBytes(18).toString('base64url');
  fs.writeFileSync(p.pgPassword, `${password}\n`, { mode: 0o600 });
  const state: StackState = {
    dir,
    startedAt: new Date().toISOString(),
    namespace: o.namespace ?? 'default',
    taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
    pg: { dir: pgDir, port: pgPort, user: 'temporal', log: path.join(pgDir, 'postgres.log') },
    server: { version: TEMPORAL_SERVER_VERSION, dir: serverDir, ports, root: p.serverRoot, log: path.join(p.logs, 'temporal-server.log') },
    ...(uiBinary
      ? {
          ui: {
            version: TEMPORAL_UI_VERSION,
            port: uiPort,
            url: `http://127.0.0.1:${uiPort}`,
            root: p.uiRoot,
            log: path.join(p.logs, 'temporal-ui.log'),
          },
        }
      : { uiSkipped: o.ui === false ? 'not asked for (--no-ui)' : 'ui-server could not be built (scripts/temporal-server.sh ui)' }),
    ...(secrets ? { workerEnv: secrets } : {}),
    workers: [],
    timings,
  };
  writeState(state);
  try {
    const pg = pgCluster(state);
    await phase('postgres', async () => {
      await pgInit(pg);
      state.pg.pid = await pgStart(pg);
      writeState(state);
    });
    await phase('schema', () => setupSchema(serverDir, pg));
    await phase('temporal-server', async () => {
      fs.mkdirSync(path.dirname(p.serverConfig), { recursive: true });
      fs.writeFileSync(p.dynamicConfig, dynamicConfig());
      // It holds the database password: readable by us only.
      fs.writeFileSync(p.serverConfig, serverConfig({ ports, pg, dynamicConfigFile: p.dynamicConfig }), { mode: 0o600 });
      await startServer(state);
    });
    await phase('namespace', () => setupNamespace(cliPath, frontendAddress(state), state.namespace, log));
    if (state.ui && uiBinary) {
      const ui = state.ui;
      await phase('temporal-web', async () => {
        fs.mkdirSync(path.dirname(p.uiConfig), { recursive: true });
        fs.writeFileSync(p.uiConfig, uiConfig({ frontend: frontendAddress(state), port: ui.port, namespace: state.namespace }));
        ui.pid = spawnUiServer(uiBinary, ui.root, SERVER_ENV, ui.log);
        writeState(state);
        await waitForUi(ui.url, ui.pid, 30_000);
      });
    }
    if (workers > 0) await phase('workers', () => addWorkers(state, workers));
    writeState(state);
  } catch (err) {
    log(`start failed, stopping what was started: ${(err as Error).message.split('\n')[0]}`);
    await stackDown(dir);
    throw err;
  }
  return { state, alreadyUp: false, elapsedMs: Date.now() - t0 };
}

async function startServer(state: StackState): Promise<void> {
  const pid = spawnTemporalServer(state.server.dir, state.server.root, SERVER_ENV, state.server.log);
  state.server.pid = pid;
  writeState(state);
  await waitForFrontend(frontendAddress(state), pid, 90_000, state.server.log);
}

/** Starts `count` more workers on the stack's task queue and waits until each has connected. */
export async function addWorkers(state: StackState, count: number): Promise<StackWorker[]> {
  if (!state.workerEnv) throw new Error('the stack has no worker secrets (BG_SSH_KEY, BG_KNOWN_HOSTS)');
  const added: StackWorker[] = [];
  for (let i = 0; i < count; i++) {
    const index = state.workers.length + 1;
    const log = path.join(stackPaths(state.dir).logs, `worker-${index}.log`);
    const pid = spawnStackWorker(
      {
        ...state.workerEnv,
        TEMPORAL_ADDRESS: frontendAddress(state),
        TEMPORAL_NAMESPACE: state.namespace,
        BG_TASK_QUEUE: state.taskQueue,
        // Marks the process as this stack's (down checks it before signalling a recorded PID).
        BG_STACK_DIR: state.dir,
      },
      log,
    );
    const w = { index, pid, log };
    state.workers.push(w);
    added.push(w);
    writeState(state);
  }
  for (const w of added) await waitForLine(w.log, 'worker: task queue', w.pid, 60_000);
  return added;
}

async function waitForLine(file: string, needle: string, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text.includes(needle)) return;
    if (!isAlive(pid)) throw new Error(`process ${pid} exited:\n${text.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`no "${needle}" in ${file} after ${timeoutMs} ms:\n${text.slice(-2000)}`);
    await sleep(100);
  }
}

/** True if the PID is alive and its command line (or environment) names this stack's directory. */
function ours(pid: number | undefined, ...needles: string[]): pid is number {
  if (!isAlive(pid)) return false;
  try {
    const text = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') + fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
    return needles.some((n) => text.includes(n));
  } catch {
    return !fs.existsSync('/proc/self'); // no /proc (macOS): trust the record
  }
}

export interface StackDownResult {
  dir: string;
  stopped: number[];
}

/** Stops every process the stack recorded (workers, Temporal Web, the server, PostgreSQL) and removes its files. */
export async function stackDown(dir = defaultStackDir()): Promise<StackDownResult> {
  dir = path.resolve(dir);
  const s = readStackState(dir);
  const stopped: number[] = [];
  if (s) {
    // Workers first (they finish or hand back their tasks), then the UI, the server, the database.
    const workers = s.workers.map((w) => w.pid).filter((pid) => ours(pid, `BG_STACK_DIR=${dir}`));
    await Promise.all(workers.map((pid) => stopByPid(pid, 15_000)));
    stopped.push(...workers);
    if (ours(s.ui?.pid, s.ui?.root ?? dir)) {
      await stopByPid(s.ui!.pid);
      stopped.push(s.ui!.pid!);
    }
    if (ours(s.server.pid, s.server.root)) {
      await stopByPid(s.server.pid);
      stopped.push(s.server.pid!);
    }
    const pg = pgPid(s.pg.dir);
    if (ours(pg, s.pg.dir)) {
      await pgStop(s.pg.dir, 'fast');
      stopped.push(pg);
    }
    if (s.pg.dir.startsWith(path.join(os.tmpdir(), 'bg-stack-pg-'))) fs.rmSync(s.pg.dir, { recursive: true, force: true });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { dir, stopped };
}

export interface StackStatus {
  dir: string;
  exists: boolean;
  up: boolean;
  problems: string[];
  state?: StackState;
  temporal?: { address: string; reachable: boolean; serverVersion?: string };
  postgres?: { address: string; ready: boolean; pid?: number };
  web?: { url: string; answering: boolean; pid?: number };
  workers: { index: number; pid: number; running: boolean }[];
}

export async function stackStatus(dir = defaultStackDir()): Promise<StackStatus> {
  dir = path.resolve(dir);
  const s = readStackState(dir);
  if (!s) return { dir, exists: false, up: false, problems: ['no stack (no state.json)'], workers: [] };
  const problems: string[] = [];
  let pgOk = false;
  try {
    pgOk = await pgReady(pgCluster(s));
  } catch {
    // no password file: not ours any more
  }
  if (!pgOk) problems.push('PostgreSQL not accepting connections');
  const address = frontendAddress(s);
  let serverVersion: string | undefined;
  try {
    const conn = await Connection.connect({ address, connectTimeout: 2000 });
    try {
      serverVersion = (await conn.workflowService.getSystemInfo({})).serverVersion ?? undefined;
    } finally {
      await conn.close();
    }
  } catch {
    problems.push(`Temporal frontend ${address} not answering`);
  }
  if (!isAlive(s.server.pid)) problems.push('temporal-server not running');
  let web: StackStatus['web'];
  if (s.ui) {
    let answering = false;
    try {
      const res = await fetch(s.ui.url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      answering = res.ok;
    } catch {
      // not answering
    }
    if (!answering) problems.push(`Temporal Web ${s.ui.url} not answering`);
    web = { url: s.ui.url, answering, pid: s.ui.pid };
  }
  const workers = s.workers.map((w) => ({ index: w.index, pid: w.pid, running: isAlive(w.pid) }));
  for (const w of workers) if (!w.running) problems.push(`worker ${w.index} (pid ${w.pid}) not running`);
  return {
    dir,
    exists: true,
    up: problems.length === 0,
    problems,
    state: s,
    temporal: { address, reachable: serverVersion !== undefined, serverVersion },
    postgres: { address: `127.0.0.1:${s.pg.port}`, ready: pgOk, pid: pgPid(s.pg.dir) },
    web,
    workers,
  };
}

// --- For tests and operators: take parts of a running stack down and up again. ---

/** Kills the Temporal server (SIGKILL by default: no drain, no goodbye to the ring). */
export async function killTemporalServer(dir: string, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const s = readStackState(dir);
  if (!s) throw new Error(`no stack in ${dir}`);
  if (ours(s.server.pid, s.server.root)) await stopByPid(s.server.pid, 15_000, sig);
  s.server.pid = undefined;
  writeState(s);
}

/** Starts the Temporal server again with the same config (same ports, same database). */
export async function startTemporalServer(dir: string): Promise<void> {
  const s = readStackState(dir);
  if (!s) throw new Error(`no stack in ${dir}`);
  if (isAlive(s.server.pid)) throw new Error(`temporal-server is already running (pid ${s.server.pid})`);
  await startServer(s);
}

/** A fast shutdown of PostgreSQL and a start again, the data kept. */
export async function restartPostgres(dir: string, downMs = 0): Promise<{ before?: number; after: number }> {
  const s = readStackState(dir);
  if (!s) throw new Error(`no stack in ${dir}`);
  const before = pgPid(s.pg.dir);
  s.pg.pid = await pgRestart(pgCluster(s), downMs);
  writeState(s);
  return { before, after: s.pg.pid };
}
