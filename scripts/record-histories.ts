// Records the histories that test/integration/replay replays. Run it once per workflow change that is
// meant to break compatibility on purpose (and only then): `npx tsx scripts/record-histories.ts`, or
// name the scenarios to record only those (`npx tsx scripts/record-histories.ts bake-breach-rolled-back`).
// Each scenario runs the real workflow on a throwaway dev server against the in-memory fleet.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { parsePlan } from '../src/plan/validate';
import { startDevServer } from '../src/temporal/dev-server';
import { blueGreenDeployment } from '../src/workflows';
import { abortSignal, approveSignal, approveUpdate, pauseSignal, resumeSignal, statusQuery } from '../src/workflows/messages';
import { FakeFleet } from '../test/support/fake-fleet';

const outDir = fileURLToPath(new URL('../test/integration/replay/histories/', import.meta.url));
const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];

/** A scenario returns the workflow id, or the runs to record by name (a run that continued as new). */
type Scenario = (
  client: Client,
  taskQueue: string,
  fleet: FakeFleet,
) => Promise<string | Record<string, { workflowId: string; runId: string }>>;

async function waitFor(handle: ReturnType<Client['workflow']['getHandle']>, pred: (s: Awaited<ReturnType<typeof q>>) => boolean) {
  for (;;) {
    const s = await q(handle);
    if (pred(s)) return s;
    if (s.outcome) throw new Error(`run ended (${s.outcome}: ${s.reason}) before the awaited state`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const q = (h: ReturnType<Client['workflow']['getHandle']>) => h.query(statusQuery);

const scenarios: Record<string, Scenario> = {
  // Gates approved by Update and by signal, a wrong-gate signal ignored, pause and resume.
  'succeeded-with-gates': async (client, taskQueue, fleet) => {
    const plan = parsePlan(
      fleet.plan({
        gates: { promote: { enabled: true, timeoutSeconds: 600 }, migrate: { enabled: true, timeoutSeconds: 600 } },
        commands: { install: '/opt/app/bin/install {release}', currentRelease: '/opt/app/bin/current', migrate: '/opt/app/bin/migrate' },
        migration: { host: 'blue-1' },
      }),
    );
    const h = await client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: 'replay-succeeded-with-gates', args: [plan] });
    await waitFor(h, (s) => s.pendingGate?.gate === 'promote-green');
    await h.signal(approveSignal, { gate: 'migrate', release: plan.release, by: 'mallory', reason: 'wrong gate' });
    await h.signal(pauseSignal, { by: 'alice', reason: 'lunch' });
    await h.executeUpdate(approveUpdate, {
      args: [{ gate: 'promote-green', release: plan.release, by: 'alice', reason: 'green looks fine' }],
    });
    await new Promise((r) => setTimeout(r, 300));
    await h.signal(resumeSignal, { by: 'alice', reason: 'back' });
    await waitFor(h, (s) => s.pendingGate?.gate === 'promote-blue');
    await h.signal(approveSignal, { gate: 'promote-blue', release: plan.release, by: 'bob' });
    await waitFor(h, (s) => s.pendingGate?.gate === 'migrate');
    await h.executeUpdate(approveUpdate, { args: [{ gate: 'migrate', release: plan.release, by: 'carol' }] });
    await h.result();
    return h.workflowId;
  },
  'rolled-back-smoke-failure': async (client, taskQueue, fleet) => {
    fleet.smokeRelease = 'v1';
    const h = await client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: 'replay-rolled-back-smoke', args: [fleet.plan()] });
    await h.result().catch((e: unknown) => {
      if (!(e instanceof WorkflowFailedError)) throw e;
    });
    return h.workflowId;
  },
  'aborted-at-promote-gate': async (client, taskQueue, fleet) => {
    const plan = parsePlan(fleet.plan({ gates: { promote: { enabled: true, timeoutSeconds: 600 } } }));
    const h = await client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: 'replay-aborted-at-gate', args: [plan] });
    await waitFor(h, (s) => s.pendingGate?.gate === 'promote-green');
    await h.signal(abortSignal, { by: 'alice', reason: 'wrong release' });
    await h.result().catch((e: unknown) => {
      if (!(e instanceof WorkflowFailedError)) throw e;
    });
    return h.workflowId;
  },
  // A gate flooded with ignored signals continues as new; both runs are recorded: the one that ends
  // CONTINUED_AS_NEW and the one that resumes at the gate and completes.
  'continued-as-new': async (client, taskQueue, fleet) => {
    const plan = parsePlan(fleet.plan({ gates: { promote: { enabled: true, timeoutSeconds: 600, onTimeout: 'wait' } } }));
    const h = await client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: 'replay-continued-as-new', args: [plan] });
    await waitFor(h, (s) => s.pendingGate?.gate === 'promote-green');
    const latest = client.workflow.getHandle(h.workflowId);
    for (let i = 0; (await latest.describe()).runId === h.firstExecutionRunId; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => latest.signal(approveSignal, { gate: 'promote-blue', by: `bot-${i + k}` })));
      await new Promise((r) => setTimeout(r, 300));
    }
    const resumedRunId = (await latest.describe()).runId;
    await latest.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice', runId: h.firstExecutionRunId });
    await waitFor(latest, (s) => s.pendingGate?.gate === 'promote-blue');
    await latest.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'alice' });
    await latest.result();
    return {
      'continued-as-new-at-gate': { workflowId: h.workflowId, runId: h.firstExecutionRunId },
      'resumed-at-gate': { workflowId: h.workflowId, runId: resumedRunId },
    };
  },
  // A bake that passes on green, then breaches on blue: both clusters roll back, blue first.
  'bake-breach-rolled-back': async (client, taskQueue, fleet) => {
    fleet.trafficFailures.set('blue-2@v2', 0.5);
    const plan = parsePlan(fleet.plan({ bake: { seconds: 2, sampleSeconds: 1, thresholds: { max5xxRatio: 0.05, minRequests: 50 } } }));
    const h = await client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: 'replay-bake-breach', args: [plan] });
    await h.result().catch((e: unknown) => {
      if (!(e instanceof WorkflowFailedError)) throw e;
    });
    return h.workflowId;
  },
  'preflight-refused': async (client, taskQueue, fleet) => {
    fleet.releases.set('blue-2', 'v0');
    const h = await client.workflow.start(blueGreenDeployment, { taskQueue, workflowId: 'replay-preflight-refused', args: [fleet.plan()] });
    await h.result().catch((e: unknown) => {
      if (!(e instanceof WorkflowFailedError)) throw e;
    });
    return h.workflowId;
  },
};
// Recorded again after steps 1 and 4 became one LB activity each (patch one-lb-call-per-step): the
// older files keep the two-activity runs replaying, these the new ones.
scenarios['succeeded-one-lb-call-per-step'] = scenarios['succeeded-with-gates']!;
scenarios['rolled-back-one-lb-call-per-step'] = scenarios['rolled-back-smoke-failure']!;
// And after preflight's reads became one activity and step 3 another (patches one-fleet-read and
// one-activity-per-verify, made together: no run has one without the other).
scenarios['succeeded-one-fleet-read'] = scenarios['succeeded-with-gates']!;
scenarios['rolled-back-one-fleet-read'] = scenarios['rolled-back-smoke-failure']!;

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer();
  try {
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const native = await NativeConnection.connect({ address: server.address });
    fs.mkdirSync(outDir, { recursive: true });
    const only = process.argv.slice(2);
    const unknown = only.filter((n) => !(n in scenarios));
    if (unknown.length) throw new Error(`no scenario ${unknown.join(', ')}; there are: ${Object.keys(scenarios).join(', ')}`);
    for (const [name, scenario] of Object.entries(scenarios)) {
      if (only.length && !only.includes(name)) continue;
      const fleet = new FakeFleet(HOSTS, 'v1');
      const taskQueue = `record-${name}`;
      const worker = await Worker.create({
        connection: native,
        taskQueue,
        workflowsPath: fileURLToPath(new URL('../src/workflows/index.ts', import.meta.url)),
        activities: createActivities(fleet.deps()),
      });
      const recorded = await worker.runUntil(() => scenario(client, taskQueue, fleet));
      const runs = typeof recorded === 'string' ? { [name]: { workflowId: recorded, runId: '' } } : recorded;
      for (const [file, run] of Object.entries(runs)) {
        // The CLI's JSON is the documented replayable format (`temporal workflow show -o json`).
        const json = execFileSync(
          server.cliPath,
          ['workflow', 'show', '--address', server.address, '-w', run.workflowId, ...(run.runId ? ['-r', run.runId] : []), '-o', 'json'],
          { maxBuffer: 64 << 20 },
        );
        fs.writeFileSync(path.join(outDir, `${file}.json`), json);
        console.log(`recorded ${file}: ${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events`);
      }
    }
    await native.close();
    await connection.close();
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
