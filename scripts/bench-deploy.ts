// Benchmark: a full v1 → v2 deployment on labs of growing size, under load. Prints one JSON line per
// size: wall time, time per step, requests and failures, and the worker process's peak memory.
// Usage: npm run bench -- [sizes, default 2,10,25] [--parallelism N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { labDown, labUp, startLoad } from '../src/lab';
import { loadPlanInput } from '../src/plan/load';
import { parsePlan } from '../src/plan/validate';
import type { PlanInput } from '../src/plan/schema';
import { startDeployment } from '../src/client/start';
import { startDevServer } from '../src/temporal/dev-server';
import { startWorkerProcess } from '../test/support/worker-process';

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

async function benchOne(address: string, client: Client, hostsPerCluster: number, parallelism: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-bench-'));
  const lab = await labUp({ dir, hostsPerCluster, basePort: Number(process.env.BG_LAB_BASE_PORT) || 20000 });
  const taskQueue = `bench-${hostsPerCluster}-${Date.now()}`;
  const worker = await startWorkerProcess({ TEMPORAL_ADDRESS: address, BG_TASK_QUEUE: taskQueue, BG_SSH_KEY: lab.keyPath, BG_KNOWN_HOSTS: lab.knownHostsPath });
  try {
    const input = (await loadPlanInput(lab.planPath)) as PlanInput;
    const plan = parsePlan({ ...input, parallelism });
    const load = startLoad({ url: lab.liveUrl, rps: 200, dbPath: lab.dbPath });
    const t0 = Date.now();
    const handle = await startDeployment(client, plan, { taskQueue, workflowId: taskQueue });
    const result = await handle.result();
    const wallMs = Date.now() - t0;
    const report = await load.stop();
    return {
      hostsPerCluster,
      hosts: lab.hosts.length,
      parallelism,
      outcome: result.outcome,
      wallMs,
      steps: Object.fromEntries(result.steps.map((s) => [`${s.step}${s.cluster ? `:${s.cluster}` : ''}`, s.ms])),
      requests: report.requests,
      failedRequests: report.failures.count,
      lostWrites: report.lostWrites.length,
      latencyMs: report.latencyMs,
      workerPeakRssMb: peakRssMb(worker.pid),
    };
  } finally {
    await worker.kill('SIGTERM');
    await labDown(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { parallelism: { type: 'string', default: '4' } } });
  const sizes = (positionals[0] ?? '2,10,25').split(',').map(Number);
  const server = await startDevServer();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    for (const n of sizes) {
      console.log(JSON.stringify(await benchOne(server.address, client, n, Number(values.parallelism))));
    }
  } finally {
    await connection.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
