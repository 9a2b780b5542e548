// `npx tsx scripts/worker-ready-timing.ts [--runs 10] [CHECKOUT...]`: how long each given checkout's
// compiled worker (`node dist/worker.js`, default: this checkout's) takes from spawn to its
// `worker: task queue` line (ready: it polls), median of N, the checkouts interleaved run by run so
// that a change of load on the machine hits them alike. Starts its own Temporal dev server; the
// worker needs only readable secrets (a fresh key, an empty known_hosts) and contacts no host.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/paths';
import { startDevServer } from '../src/temporal/dev-server';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const entries = (positionals.length ? positionals : [packageRoot]).map((c) => path.join(path.resolve(c), 'dist', 'worker.js'));
for (const e of entries) if (!fs.existsSync(e)) throw new Error(`${e} is missing: run "npm run build" in that checkout`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-ready-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id_ed25519')]);
fs.writeFileSync(path.join(dir, 'known_hosts'), '');
const server = await startDevServer();

async function readyMs(entry: string, run: number): Promise<number> {
  const t = performance.now();
  const child = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      BG_TASK_QUEUE: `ready-${run}`,
      BG_SSH_KEY: path.join(dir, 'id_ed25519'),
      BG_KNOWN_HOSTS: path.join(dir, 'known_hosts'),
      BG_LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let ms: number | undefined;
  await new Promise<void>((resolve) => {
    const on = (b: Buffer) => {
      out += b.toString();
      if (ms === undefined && out.includes('worker: task queue')) {
        ms = performance.now() - t;
        resolve();
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', () => resolve());
  });
  // A worker that failed to start has exited already: its 'exit' event is gone.
  if (ms === undefined || child.exitCode !== null || child.signalCode !== null) {
    child.kill('SIGKILL');
    throw new Error(`${entry} did not start (exit ${child.exitCode ?? child.signalCode}):\n${out}`);
  }
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return ((s[(s.length - 1) >> 1] ?? NaN) + (s[s.length >> 1] ?? NaN)) / 2;
};
try {
  const times = new Map(entries.map((e) => [e, [] as number[]]));
  const loads: number[] = [];
  for (let run = 0; run < runs; run++) {
    loads.push(os.loadavg()[0] ?? NaN);
    for (const [e, ms] of times) ms.push(await readyMs(e, run));
  }
  for (const [e, ms] of times) console.log(`${e}: median ${median(ms).toFixed(1)} ms (${ms.map((x) => Math.round(x)).join(' ')})`);
  console.log(`load average (1 min) at each run: ${loads.map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
