// The bake on the real lab (sshd hosts, HAProxy, the sample app, a real Temporal server), under load:
// a release that passes health and smoke but fails a fifth of live requests is caught by HAProxy's
// own counters and rolled back; a good one bakes and succeeds, even with the worker killed mid-bake.
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resultOfFailedRun } from '../../../src/client/result';
import { startDeployment } from '../../../src/client/start';
import { hostCurrentRelease, hostRestarts, showStat, startLoad } from '../../../src/lab';
import type { PlanInput } from '../../../src/plan/schema';
import { parsePlan } from '../../../src/plan/validate';
import { blueGreenDeployment } from '../../../src/workflows';
import { statusQuery } from '../../../src/workflows/messages';
import type { DeploymentResult } from '../../../src/workflows/state';
import { uniqueId, withWorker } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { useTestLab } from '../../support/test-lab';

const t = useTestLab(14);
let connection: Connection;
let client: Client;
beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

// Short samples, and a verdict as soon as a server has 20 responses: the window's price is small.
const bake = { seconds: 5, sampleSeconds: 1, thresholds: { max5xxRatio: 0.05, minRequests: 20 } };
const RPS = 150;

function planFor(to: string, extra: Partial<PlanInput> = {}): PlanInput {
  const from = hostCurrentRelease(t.lab.hosts[0]!.name, t.lab.dir) ?? 'v1';
  return { ...t.plan, release: to, currentRelease: from, bake, ...extra };
}

async function deployInProcess(plan: PlanInput): Promise<DeploymentResult> {
  const taskQueue = uniqueId('bake');
  return withWorker(taskQueue, t.activities, async () => {
    try {
      return await client.workflow.execute(blueGreenDeployment, {
        taskQueue,
        workflowId: uniqueId('bake'),
        args: [plan],
        workflowExecutionTimeout: '5 minutes',
      });
    } catch (err) {
      const result = err instanceof WorkflowFailedError ? resultOfFailedRun(err) : undefined;
      if (!result) throw err;
      return result;
    }
  });
}

async function expectFleetOn(release: string) {
  const stat = await showStat(t.lab.haproxySocket);
  for (const h of t.lab.hosts) {
    expect(hostCurrentRelease(h.name, t.lab.dir), h.name).toBe(release);
    expect(stat.find((r) => r.pxname === 'live' && r.svname === h.name)?.status, `${h.name} live`).toBe('UP');
    expect(stat.find((r) => r.pxname === 'standby' && r.svname === h.name)?.status, `${h.name} standby`).toBe('MAINT');
  }
}

describe('bake on the lab under load', () => {
  it('catches bad-traffic (healthy, passes smoke, 500 on a fifth of live requests) and rolls back with 0 lost writes', async () => {
    const plan = planFor('bad-traffic');
    const load = startLoad({ url: t.lab.liveUrl, rps: RPS, dbPath: t.lab.dbPath });
    const result = await deployInProcess(plan);
    await new Promise((r) => setTimeout(r, 1000));
    const report = await load.stop();

    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(
      /^bake of green failed: green-\d: 5xx \d+(\.\d)?% of \d+ responses in \d+ s, limit 5%\. Rolled back: green runs v1/,
    );
    expect(result.bakes).toHaveLength(1);
    const b = result.bakes![0]!;
    expect(b.outcome).toBe('breached');
    // Blue was never touched: the bake stopped the run before its standby step.
    expect(result.steps.map((s) => `${s.step}${s.cluster ? `:${s.cluster}` : ''}`)).toEqual([
      'preflight',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
      'bake:green',
      'rollback:green',
    ]);
    await expectFleetOn(plan.currentRelease);

    // Every failed request is a 500 the bad release answered on green; none is a connection error.
    const failures = report.failures.list;
    expect(
      failures.every((f) => /^HTTP 500 from green-\d/.test(f.reason)),
      JSON.stringify(failures.slice(0, 3)),
    ).toBe(true);
    expect(report.lostWrites).toEqual([]);
    const first = failures[0]?.at;
    const last = failures.at(-1)?.at;
    console.log(
      `bake caught bad-traffic after ${b.samples} sample(s): "${b.reason}"; ` +
        `${failures.length} of ${report.requests} requests failed (${RPS} rps), all between ${first} and ${last} ` +
        `(${first && last ? Date.parse(last) - Date.parse(first) : 0} ms); bake step ${result.steps.find((s) => s.step === 'bake')?.ms} ms; ` +
        `writes acknowledged ${report.writesAcknowledged}, lost ${report.lostWrites.length}`,
    );
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.length).toBeLessThan(RPS); // less than one second of all traffic
  });

  it('a good release bakes every cluster for the window and succeeds with no failed request', async () => {
    const plan = planFor('v2');
    const load = startLoad({ url: t.lab.liveUrl, rps: RPS, dbPath: t.lab.dbPath });
    const result = await deployInProcess(plan);
    const report = await load.stop();
    expect(result.outcome, result.reason).toBe('succeeded');
    expect(result.bakes?.map((b) => [b.cluster, b.outcome])).toEqual([
      ['green', 'passed'],
      ['blue', 'passed'],
    ]);
    for (const b of result.bakes ?? []) {
      expect(b.samples).toBeGreaterThanOrEqual(3); // 1 s apart plus each reading, in a 5 s window
      for (const s of b.servers) expect(s.responses, `${b.cluster} ${s.server}`).toBeGreaterThan(50);
      expect(b.servers.every((s) => s.r5xx === 0 && s.status === 'UP')).toBe(true);
    }
    expect(report.failures.list).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    await expectFleetOn('v2');
  });

  it('the worker is SIGKILLed mid-bake: a new worker reads the counters again and the run succeeds', async () => {
    const plan = parsePlan(
      planFor(hostCurrentRelease(t.lab.hosts[0]!.name, t.lab.dir) === 'v1' ? 'v2' : 'v1', { bake: { ...bake, seconds: 8 } }),
    );
    const taskQueue = uniqueId('bake-crash');
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: t.lab.keyPath,
      BG_KNOWN_HOSTS: t.lab.knownHostsPath,
    };
    const startedAt = new Date().toISOString();
    const load = startLoad({ url: t.lab.liveUrl, rps: RPS, dbPath: t.lab.dbPath });
    let worker: WorkerProcess | undefined = await startWorkerProcess(env);
    try {
      const handle = await startDeployment(client, plan, { taskQueue, workflowId: uniqueId('bake-crash') });
      let samplesAtKill = -1;
      const deadline = Date.now() + 120_000;
      while (samplesAtKill < 0) {
        if (Date.now() > deadline) throw new Error('never saw the bake of green with 2 samples');
        const s = await handle.query(statusQuery).catch(() => undefined);
        if (s?.outcome) throw new Error(`run ended before the kill: ${s.outcome}: ${s.reason}`);
        const green = s?.bakes?.find((b) => b.cluster === 'green');
        if (s?.step === 'bake' && green && green.samples >= 2) {
          await worker?.kill('SIGKILL');
          worker = undefined;
          samplesAtKill = green.samples;
        } else await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1000));
      worker = await startWorkerProcess(env);
      const result = await handle.result();
      const report = await load.stop();
      expect(result.outcome, result.reason).toBe('succeeded');
      const green = result.bakes?.find((b) => b.cluster === 'green');
      expect(green?.outcome).toBe('passed');
      // The window went on from where it was: samples before the kill count, and the figures kept growing.
      expect(green!.samples).toBeGreaterThan(samplesAtKill);
      expect(green!.servers.every((s) => s.responses > 100)).toBe(true);
      expect(report.failures.list).toEqual([]);
      expect(report.lostWrites).toEqual([]);
      for (const h of t.lab.hosts) {
        expect(
          hostRestarts(h.name, t.lab.dir).filter((r) => r.at >= startedAt && r.release === plan.release),
          h.name,
        ).toHaveLength(1);
      }
      console.log(`killed the worker at bake sample ${samplesAtKill} of green; it finished with ${green!.samples} samples`);
    } finally {
      await worker?.kill('SIGKILL');
      await load.stop().catch(() => undefined);
    }
  });
});
