// The Temporal server itself goes away in the middle of a deployment: a dev server that keeps its
// state in a file is stopped while the cluster is being deployed, started again on the same file,
// and the run resumes and completes. Users see nothing: the lab keeps serving throughout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCurrentRelease, hostRestarts, startLoad } from '../../../src/lab';
import { parsePlan } from '../../../src/plan/validate';
import { startDeployment } from '../../../src/client/start';
import { freePort, startDevServer, type DevServer } from '../../../src/temporal/dev-server';
import { statusQuery } from '../../../src/workflows/messages';
import { uniqueId } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { useTestLab } from '../../support/test-lab';

const t = useTestLab(3);
let dir: string;
let server: DevServer | undefined;
let worker: WorkerProcess | undefined;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-temporal-'));
});
afterAll(async () => {
  await worker?.kill('SIGKILL');
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the Temporal server restarts mid-deployment', () => {
  it('a persisted dev server stopped during step 2 and started again: the run resumes and completes with 0 failed requests', async () => {
    const port = await freePort();
    const dbFile = path.join(dir, 'temporal.db');
    server = await startDevServer({ port, dbFile });
    const taskQueue = uniqueId('restart');
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: server.address,
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: t.lab.keyPath,
      BG_KNOWN_HOSTS: t.lab.knownHostsPath,
    });
    const load = startLoad({ url: t.lab.liveUrl, rps: 150, dbPath: t.lab.dbPath });
    const startedAt = new Date().toISOString();
    let connection = await Connection.connect({ address: server.address });
    let client = new Client({ connection });
    const plan = parsePlan({ ...t.plan, release: 'v2', currentRelease: 'v1' });
    const handle = await startDeployment(client, plan, { taskQueue, workflowId: uniqueId('restart') });

    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s?.step === 'deploy') break;
      if (s?.outcome || Date.now() > deadline) throw new Error(`never reached the deploy step: ${JSON.stringify(s?.reason)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await connection.close();
    await server.stop();
    await new Promise((r) => setTimeout(r, 3000));
    server = await startDevServer({ port, dbFile });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });

    const result = await client.workflow.getHandle(handle.workflowId).result();
    const report = await load.stop();
    await connection.close();

    expect(result.outcome).toBe('succeeded');
    expect(report.failures.list).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    for (const h of t.lab.hosts) {
      expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('v2');
      expect(hostRestarts(h.name, t.lab.dir).filter((r) => r.at >= startedAt && r.release === 'v2')).toHaveLength(1);
    }
  });
});
