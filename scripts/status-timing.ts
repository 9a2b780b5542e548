// `npx tsx scripts/status-timing.ts [CHECKOUT...]`: how long `bluegreen --version` and `bluegreen
// status ENV` take (median of 10, after one warm-up) for a run waiting at its first gate, with each
// given checkout's built CLI (default: this one). The run is real: a Temporal dev server and a
// worker with the in-memory fleet of the tests (the worker answers the status query; no SSH needed).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { workflowBundlePath } from '../src/paths';
import { startDevServer } from '../src/temporal/dev-server';
import { statusQuery } from '../src/workflows/messages';
import { FakeFleet } from '../test/support/fake-fleet';

const checkouts = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [process.cwd()];
const RUNS = 10;

Runtime.install({ logger: new DefaultLogger('WARN') });
const server = await startDevServer({ port: 0 });
const env = { ...process.env, TEMPORAL_ADDRESS: server.address, NO_COLOR: '1' };
const nativeConnection = await NativeConnection.connect({ address: server.address });
const connection = await Connection.connect({ address: server.address });
const taskQueue = 'status-timing';
const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
const worker = await Worker.create({
  connection: nativeConnection,
  taskQueue,
  workflowBundle: { codePath: workflowBundlePath },
  activities: createActivities(fleet.deps()),
});
const running = worker.run();
try {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-status-timing-'));
  const planFile = path.join(dir, 'plan.json');
  const gate = { enabled: true, timeoutSeconds: 3600, onTimeout: 'reject' as const };
  fs.writeFileSync(planFile, JSON.stringify(fleet.plan({ environment: 'timing', gates: { promote: gate } })));
  const bin = (checkout: string) => path.join(checkout, 'bin/bluegreen.mjs');
  // Not spawnSync: this process hosts the worker that answers the status query.
  const run = (args: string[]) =>
    new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, args, { env }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stderr })),
    );
  const started = await run([bin(checkouts[0] as string), 'deploy', planFile, '--task-queue', taskQueue]);
  if (started.code !== 0) throw new Error(`deploy failed: ${started.stderr}`);
  const handle = new Client({ connection }).workflow.getHandle('bluegreen-timing');
  for (let i = 0; (await handle.query(statusQuery)).pendingGate === undefined; i++) {
    if (i > 300) throw new Error('the run never reached its gate');
    await new Promise((r) => setTimeout(r, 100));
  }
  // A checkout from before --version existed exits 2 (unknown option) after the same start-up.
  const time = async (checkout: string, args: string[], okCodes = [0]): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const r = await run([bin(checkout), ...args]);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!okCodes.includes(r.code)) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      if (i > 0) out.push(ms); // the first run warms the file cache
    }
    return out.sort((a, b) => a - b);
  };
  const fmt = (xs: number[]) => {
    const median = ((xs[RUNS / 2 - 1] as number) + (xs[RUNS / 2] as number)) / 2;
    return `median ${median.toFixed(0)} ms (min ${(xs[0] as number).toFixed(0)}, max ${(xs.at(-1) as number).toFixed(0)})`;
  };
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${os.cpus().length} cores`,
  );
  for (const checkout of checkouts) {
    const version = await time(checkout, ['--version'], [0, 2]);
    const status = await time(checkout, ['status', 'timing']);
    console.log(`${checkout}\n  --version:     ${fmt(version)}\n  status timing: ${fmt(status)}`);
  }
  await handle.terminate('timing done');
  fs.rmSync(dir, { recursive: true, force: true });
} finally {
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
  await server.stop();
}
