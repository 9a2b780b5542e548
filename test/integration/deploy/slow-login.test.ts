// Hosts whose every SSH session costs a second (a heavy login shell, and more when sessions to one
// host overlap): a deployment is slower, never failed. The worker runs as its own compiled process
// and must not log a single failed or rejected heartbeat.
import { afterAll, describe, expect, it, inject } from 'vitest';
import { hostCurrentRelease, startLoad } from '../../../src/lab';
import { startDeployment } from '../../../src/client/start';
import { parsePlan } from '../../../src/plan/validate';
import { uniqueId, useTemporal } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { useTestLab } from '../../support/test-lab';

const SLOW_LOGIN_MS = 1000;
const t = useTestLab(8, 10, { slowLoginMs: SLOW_LOGIN_MS });
const temporal = useTemporal();
let worker: WorkerProcess | undefined;
afterAll(async () => {
  await worker?.kill('SIGKILL');
});

describe('2x10 hosts with a 1 s login shell', () => {
  it('deploys under load with no failed request, no lost write, and no failed heartbeat', async () => {
    const taskQueue = uniqueId('slow');
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: t.lab.keyPath,
      BG_KNOWN_HOSTS: t.lab.knownHostsPath,
      BG_LOG_LEVEL: 'WARN',
    });
    const load = startLoad({ url: t.lab.liveUrl, rps: 200, dbPath: t.lab.dbPath });
    const plan = parsePlan({ ...t.plan, release: 'v2', currentRelease: 'v1', parallelism: 4 });
    const handle = await startDeployment(temporal.client, plan, { taskQueue, workflowId: uniqueId('slow') });
    const result = await handle.result();
    const report = await load.stop();
    console.log(
      `2x10, ${SLOW_LOGIN_MS} ms login: ${JSON.stringify(result.steps.map((s) => `${s.step}${s.cluster ? `:${s.cluster}` : ''} ${s.ms} ms`))}`,
    );

    expect(result.outcome).toBe('succeeded');
    expect(report.failures.list).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    for (const h of t.lab.hosts) expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('v2');
    // Every session really paid the login: preflight alone reads 20 hosts.
    expect(result.steps.find((s) => s.step === 'preflight')!.ms).toBeGreaterThanOrEqual(SLOW_LOGIN_MS);
    expect(worker.output()).not.toMatch(/heartbeat|Workflow is busy|ResourceExhausted/i);
  });
});
