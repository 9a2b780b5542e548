// The production path, on real parts: a Temporal server (go.temporal.io/server v1.29.1) on
// PostgreSQL for persistence and visibility, several compiled worker processes on one task queue,
// the real lab (sshd hosts, HAProxy, sample app) under load. Each test breaks one part in the middle
// of a deployment and checks that the run still succeeds with 0 failed requests and 0 lost writes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hostCurrentRelease, hostRestarts, startLoad, type LoadReport } from '../../../src/lab';
import { parsePlan } from '../../../src/plan/validate';
import { startDeployment } from '../../../src/client/start';
import { killTemporalServer, restartPostgres, startTemporalServer } from '../../../src/stack/stack';
import { statusQuery } from '../../../src/workflows/messages';
import type { DeploymentStatus } from '../../../src/workflows/state';
import type { DeploymentResult } from '../../../src/workflows/state';
import { useTestLab } from '../../support/test-lab';
import { expectSteadyLoad } from '../../support/load';
import { uniqueId } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';

const execFileAsync = promisify(execFile);
const address = inject('temporalAddress');
const stackDir = inject('stackDir');

const t = useTestLab(11);
let connection: Connection;
let client: Client;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await connection?.close();
});

async function startWorkers(n: number, taskQueue: string): Promise<WorkerProcess[]> {
  const env = { TEMPORAL_ADDRESS: address, BG_TASK_QUEUE: taskQueue, BG_SSH_KEY: t.lab.keyPath, BG_KNOWN_HOSTS: t.lab.knownHostsPath };
  const started = await Promise.all(Array.from({ length: n }, () => startWorkerProcess(env)));
  workers.push(...started);
  return started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the run's status until `when` holds; fails if the run ends first. */
async function waitFor(
  handle: WorkflowHandle,
  what: string,
  when: (s: DeploymentStatus) => boolean | Promise<boolean>,
): Promise<DeploymentStatus> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = await handle.query(statusQuery).catch(() => undefined);
    if (s?.outcome) throw new Error(`run ended (${s.outcome}: ${s.reason}) before ${what}`);
    if (s && (await when(s))) return s;
    if (Date.now() > deadline) throw new Error(`${what}: never reached`);
    await sleep(20);
  }
}

const where = (s: DeploymentStatus) =>
  `${s.step}${s.cluster ? `:${s.cluster}` : ''} (${s.clusters.flatMap((c) => c.hosts.map((h) => `${h.name}=${h.phase}`)).join(' ')})`;

interface Deployed {
  result: DeploymentResult;
  report: LoadReport;
  to: string;
  startedAt: string;
  handle: WorkflowHandle;
}

/** One deployment under load on the lab; `during` breaks something while it runs. */
async function deploy(taskQueue: string, during: (handle: WorkflowHandle) => Promise<void>): Promise<Deployed> {
  const from = hostCurrentRelease(t.lab.hosts[0]!.name, t.lab.dir) ?? 'v1';
  const to = from === 'v1' ? 'v2' : 'v1';
  // More smoke requests widen step 3, so that every kill point is reached while activities run.
  const plan = parsePlan({ ...t.plan, release: to, currentRelease: from, smoke: Array.from({ length: 8 }, () => t.plan.smoke[0]!) });
  const startedAt = new Date().toISOString();
  const load = startLoad({ url: t.lab.liveUrl, rps: 150, dbPath: t.lab.dbPath });
  try {
    const handle = await startDeployment(client, plan, { taskQueue, workflowId: uniqueId('stack') });
    await during(handle);
    // A new connection: the old one may have given up on the restarted server.
    const conn = await Connection.connect({ address });
    try {
      const result = await new Client({ connection: conn }).workflow.getHandle(handle.workflowId).result();
      await sleep(1000);
      const report = await load.stop();
      return { result, report, to, startedAt, handle };
    } finally {
      await conn.close();
    }
  } finally {
    await load.stop().catch(() => undefined);
  }
}

function expectClean(d: Deployed): void {
  expect(d.result.outcome, d.result.reason).toBe('succeeded');
  expect(d.report.failures.list).toEqual([]);
  expect(d.report.lostWrites).toEqual([]);
  expectSteadyLoad(d.report, 2);
  for (const h of t.lab.hosts) {
    expect(hostCurrentRelease(h.name, t.lab.dir)).toBe(d.to);
    expect(
      hostRestarts(h.name, t.lab.dir).filter((r) => r.at >= d.startedAt && r.release === d.to),
      `${h.name} restarts`,
    ).toHaveLength(1);
  }
  console.log(
    `${d.report.requests} requests, ${d.report.failures.count} failed, ${d.report.writesAcknowledged} writes acknowledged, ${d.report.lostWrites.length} lost`,
  );
}

/** An activity of the run that a worker is running now: its id, attempt and worker (pid@host). */
async function runningActivity(
  handle: WorkflowHandle,
): Promise<{ activityId: string; type: string; attempt: number; identity: string } | undefined> {
  const d = await handle.describe();
  const a = (d.raw.pendingActivities ?? []).find((x) => x.lastWorkerIdentity && x.lastStartedTime);
  if (!a?.activityId || !a.lastWorkerIdentity) return undefined;
  return { activityId: a.activityId, type: a.activityType?.name ?? '?', attempt: a.attempt ?? 1, identity: a.lastWorkerIdentity };
}

describe('production path: Temporal server v1.29.1 on PostgreSQL, several workers', () => {
  it('two workers on one task queue: the one running the activities is SIGKILLed mid-deploy, the other finishes the run', async () => {
    const taskQueue = uniqueId('stack-workers');
    const pair = await startWorkers(2, taskQueue);
    let killed: WorkerProcess | undefined;
    let running: Awaited<ReturnType<typeof runningActivity>>;
    let killedAt = '';
    const d = await deploy(taskQueue, async (handle) => {
      await waitFor(handle, 'an activity running on a worker in step 2', async (s) => {
        if (s.step !== 'deploy') return false;
        running = await runningActivity(handle);
        killed = pair.find((w) => running?.identity.startsWith(`${w.pid}@`));
        if (!killed) return false;
        killedAt = `${where(s)}, ${running!.type} attempt ${running!.attempt} on worker ${running!.identity}`;
        await killed.kill('SIGKILL');
        return true;
      });
    });
    console.log(`killed at ${killedAt}`);
    expectClean(d);
    const survivor = pair.find((w) => w !== killed)!;
    // The activity the killed worker was running was completed by the survivor, in a later attempt.
    const events = (await d.handle.fetchHistory()).events ?? [];
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityId === running!.activityId);
    const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
    expect(started?.activityTaskStartedEventAttributes?.identity).toMatch(new RegExp(`^${survivor.pid}@`));
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThan(running!.attempt);
    // ...and every activity after it.
    const identities = events
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.identity ?? '');
    expect(identities.at(-1)).toMatch(new RegExp(`^${survivor.pid}@`));
    await survivor.kill();
  });

  it('the Temporal server process is SIGKILLed mid-deploy and started again: the run resumes and succeeds', async () => {
    const taskQueue = uniqueId('stack-server');
    const pair = await startWorkers(2, taskQueue);
    let downMs = 0;
    const d = await deploy(taskQueue, async (handle) => {
      const s = await waitFor(
        handle,
        'step 2',
        (s) => s.step === 'deploy' && s.clusters.some((c) => c.hosts.some((h) => h.phase === 'installing' || h.phase === 'starting')),
      );
      const t0 = Date.now();
      await killTemporalServer(stackDir, 'SIGKILL');
      console.log(`server SIGKILLed at ${where(s)}`);
      await sleep(2000);
      await startTemporalServer(stackDir);
      downMs = Date.now() - t0;
    });
    console.log(`server down for ${downMs} ms (kill, 2 s, start until the frontend answers)`);
    expectClean(d);
    await Promise.all(pair.map((w) => w.kill()));
  });

  it('PostgreSQL is restarted mid-run (fast shutdown): the run resumes and succeeds', async () => {
    const taskQueue = uniqueId('stack-pg');
    const pair = await startWorkers(2, taskQueue);
    const d = await deploy(taskQueue, async (handle) => {
      const s = await waitFor(handle, 'step 2', (s) => s.step === 'deploy');
      const t0 = Date.now();
      const { before, after } = await restartPostgres(stackDir, 1000);
      expect(before).toBeGreaterThan(0);
      expect(after).not.toBe(before); // a new postmaster: every connection the server had is gone
      console.log(`PostgreSQL restarted at ${where(s)}: down ${Date.now() - t0} ms (fast shutdown, 1 s, start)`);
    });
    expectClean(d);
    await Promise.all(pair.map((w) => w.kill()));
  });

  it('`bluegreen history` and `temporal workflow list --query "BgEnvironment=\'lab\'"` read SQL visibility', async () => {
    const taskQueue = uniqueId('stack-vis');
    const [worker] = await startWorkers(1, taskQueue);
    const from = hostCurrentRelease(t.lab.hosts[0]!.name, t.lab.dir) ?? 'v1';
    const to = from === 'v1' ? 'v2' : 'v1';
    const planFile = path.join(t.lab.dir, 'stack-plan.json');
    fs.writeFileSync(planFile, JSON.stringify({ ...t.plan, release: to, currentRelease: from }));
    const env = { ...process.env, TEMPORAL_ADDRESS: address, BG_TASK_QUEUE: taskQueue };
    const bluegreen = (args: string[]) => execFileAsync(process.execPath, ['bin/bluegreen.mjs', ...args], { env, maxBuffer: 8 << 20 });
    const deployed = await bluegreen(['deploy', planFile, '--wait']);
    expect(deployed.stdout).toMatch(/succeeded/i);

    // Visibility is written asynchronously: the closed run shows up within a few seconds.
    let rows: { workflowId: string; outcome: string; fromRelease?: string; release?: string }[] = [];
    for (let i = 0; i < 50; i++) {
      rows = JSON.parse((await bluegreen(['history', 'lab', '--json'])).stdout);
      if (rows.some((r) => r.workflowId === 'bluegreen-lab' && r.outcome === 'succeeded' && r.release === to)) break;
      await sleep(200);
    }
    expect(rows.find((r) => r.workflowId === 'bluegreen-lab' && r.release === to)).toMatchObject({
      outcome: 'succeeded',
      fromRelease: from,
      release: to,
    });
    // The earlier tests' runs (their own workflow ids) are found by the same search attribute.
    expect(rows.length).toBeGreaterThanOrEqual(1);
    const table = (await bluegreen(['history', 'lab'])).stdout;
    expect(table).toContain(`${from} → ${to}`);

    const cli = inject('temporalCliPath');
    const listed = await execFileAsync(cli, ['workflow', 'list', '--query', "BgEnvironment='lab'", '--address', address, '-o', 'json'], {
      maxBuffer: 8 << 20,
    });
    const runs = (JSON.parse(listed.stdout) as { execution: { workflowId: string } }[]).map((r) => r.execution.workflowId);
    expect(runs).toContain('bluegreen-lab');
    expect(runs.length).toBe(rows.length);
    const counted = await execFileAsync(
      cli,
      ['workflow', 'count', '--query', "BgEnvironment='lab' AND BgOutcome='succeeded'", '--address', address],
      { maxBuffer: 1 << 20 },
    );
    expect(Number(/\d+/.exec(counted.stdout)?.[0])).toBeGreaterThanOrEqual(1);
    await worker!.kill();
  });
});
