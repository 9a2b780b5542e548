// `npm run demo`: a whole blue-green deployment on this machine. Starts a persisted Temporal dev
// server (with Temporal Web), the lab, a worker process and a load generator; deploys; prints a
// summary; stops everything it started, also on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { labDown, labUp, startLoad, type Lab, type Load, type LoadReport } from './lab';
import { LB_KINDS, repoRoot, type LbKind } from './lab/layout';
import { compiledWorker } from './paths';
import { loadPlanInput } from './plan/load';
import { parsePlan } from './plan/validate';
import type { PlanInput } from './plan/schema';
import { startDeployment } from './client/start';
import { resultOfFailedRun } from './client/result';
import { killAndWait, startDevServer, type DevServer } from './temporal/dev-server';
import { approveUpdate, rejectUpdate, statusQuery } from './workflows/messages';
import { listenForKeys } from './demo-keys';
import type { DeploymentResult, DeploymentStatus } from './workflows/state';
import { webLink, temporalSettings, workflowIdFor } from './config';

const USAGE = `npm run demo -- [--to RELEASE] [--from RELEASE] [--hosts-per-cluster N] [--lb haproxy|nginx] [--bake SECONDS] [--yes] [--json] [--rps N]
  --to RELEASE            release to deploy (v2, v3, bad-health, bad-smoke, slow-start, bad-traffic; default v2)
  --lb KIND               the lab's load balancer: haproxy (default) or nginx
  --bake SECONDS          watch each cluster this long once live, through HAProxy's counters: 5xx above
                          1% once a server has 50 responses rolls back (haproxy only)
  --hosts-per-cluster N   lab size (default 2)
  --yes                   approve every gate automatically
  --json                  end with one JSON line on standard output`;

interface DemoOptions {
  to: string;
  from: string;
  hostsPerCluster: number;
  yes: boolean;
  json: boolean;
  rps: number;
  lb: LbKind;
  bake?: number;
}

function options(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      to: { type: 'string', default: 'v2' },
      from: { type: 'string', default: 'v1' },
      'hosts-per-cluster': { type: 'string', default: '2' },
      yes: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      rps: { type: 'string', default: '200' },
      lb: { type: 'string', default: 'haproxy' },
      bake: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const n = Number(values['hosts-per-cluster']);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`--hosts-per-cluster: expected 1..100, got ${values['hosts-per-cluster']}`);
  if (!(LB_KINDS as readonly string[]).includes(values.lb))
    throw new Error(`--lb: expected one of ${LB_KINDS.join(', ')}, got ${values.lb}`);
  const bake = values.bake === undefined ? undefined : Number(values.bake);
  if (bake !== undefined && (!Number.isInteger(bake) || bake < 1 || bake > 3600))
    throw new Error(`--bake: expected whole seconds 1..3600, got ${values.bake}`);
  return {
    to: values.to,
    from: values.from,
    hostsPerCluster: n,
    yes: values.yes,
    json: values.json,
    rps: Number(values.rps) || 200,
    lb: values.lb as LbKind,
    bake,
  };
}

class Resources {
  server?: DevServer;
  lab?: Lab;
  worker?: ChildProcess;
  load?: Load;
  report?: LoadReport;
  /** The demo's run while it is open: on an interrupt it is terminated, since its lab goes away. */
  run?: Handle;
  stopKeys?: () => void;
  private stopping?: Promise<void>;

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopKeys?.();
      if (this.load) this.report = await this.load.stop().catch(() => undefined);
      if (this.run) await this.run.terminate('demo interrupted: its lab is being stopped').catch(() => undefined);
      if (this.worker) await killAndWait(this.worker);
      if (this.lab) await labDown(this.lab.dir).catch((e: unknown) => console.error(`lab down: ${String(e)}`));
      if (this.server) await this.server.stop();
    })();
    return this.stopping;
  }
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const say = (msg: string) => (opts.json ? process.stderr : process.stdout).write(`${msg}\n`);
  const res = new Resources();
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('\nInterrupted: stopping everything the demo started...');
    void res.stop().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const stateDir = path.join(repoRoot, '.temporal');
    mkdirSync(stateDir, { recursive: true });
    const port = Number(process.env.BG_DEMO_TEMPORAL_PORT) || 7233;
    const uiPort = Number(process.env.BG_DEMO_UI_PORT) || port + 1000;
    say(`Starting Temporal dev server on 127.0.0.1:${port} (Temporal Web on http://127.0.0.1:${uiPort})...`);
    res.server = await startDevServer({ port, uiPort, dbFile: path.join(stateDir, 'demo.db') });

    say(`Starting the lab (${opts.hostsPerCluster} hosts per cluster, behind ${opts.lb})...`);
    res.lab = await labUp({ hostsPerCluster: opts.hostsPerCluster, lb: opts.lb });
    const lab = res.lab;
    const settings = temporalSettings({
      ...process.env,
      TEMPORAL_ADDRESS: res.server.address,
      TEMPORAL_WEB_URL: `http://127.0.0.1:${uiPort}`,
    });
    const taskQueue = `bluegreen-demo`;
    res.worker = spawn(process.execPath, [compiledWorker], {
      env: {
        ...process.env,
        BG_LOG_LEVEL: process.env.BG_LOG_LEVEL ?? 'WARN',
        TEMPORAL_ADDRESS: res.server.address,
        BG_TASK_QUEUE: taskQueue,
        BG_SSH_KEY: lab.keyPath,
        BG_KNOWN_HOSTS: lab.knownHostsPath,
      },
      stdio: ['ignore', opts.json ? 'ignore' : 'inherit', 'inherit'],
    });

    const input = (await loadPlanInput(lab.planPath)) as PlanInput;
    const plan = parsePlan({
      ...input,
      release: opts.to,
      currentRelease: opts.from,
      gates: {
        promote: { enabled: true, timeoutSeconds: 3600, onTimeout: 'reject' },
        migrate: { enabled: true, timeoutSeconds: 3600, onTimeout: 'reject' },
      },
      ...(opts.bake ? { bake: { seconds: opts.bake, thresholds: { max5xxRatio: 0.01, minRequests: 50 } } } : {}),
    });
    const connection = await Connection.connect({ address: res.server.address });
    const client = new Client({ connection });
    res.load = startLoad({ url: lab.liveUrl, rps: opts.rps, dbPath: lab.dbPath });
    say(`Load: ${opts.rps} requests/s through the live frontend ${lab.liveUrl}`);

    // A demo killed hard (kill -9) may have left its run open in .temporal/demo.db; its lab is gone.
    const stale = client.workflow.getHandle(workflowIdFor(plan.environment));
    const staleInfo = await stale.describe().catch(() => undefined);
    if (staleInfo?.status.name === 'RUNNING') {
      await stale.terminate('left open by an earlier demo whose lab is gone');
      say(`Terminated run ${staleInfo.runId}, left open by an earlier demo.`);
    }
    const handle = await startDeployment(client, plan, { taskQueue, startedBy: 'demo' });
    res.run = handle;
    say(`Deployment ${plan.currentRelease} → ${plan.release} started: ${handle.workflowId}`);
    say(`Watch it in Temporal Web: ${webLink(settings, handle.workflowId, handle.firstExecutionRunId)}`);

    res.stopKeys = listenForKeys({
      approve: () => void decidePending(handle, true, say),
      reject: () => void decidePending(handle, false, say),
      interrupt: onSignal,
    });
    const result = await follow(handle, opts, say, res);
    res.run = undefined;
    res.stopKeys();
    await new Promise((r) => setTimeout(r, 1000));
    const report = await res.load.stop();
    res.load = undefined;
    await connection.close();
    printSummary(result, report, opts, say);
    return result.outcome === 'succeeded' ? 0 : 1;
  } finally {
    await res.stop();
  }
}

type Handle = Awaited<ReturnType<typeof startDeployment>>;

async function follow(handle: Handle, opts: DemoOptions, say: (m: string) => void, res: Resources): Promise<DeploymentResult> {
  let lastState = '';
  let lastSaid = 0;
  const answered = new Set<string>();
  const done = handle.result().then(
    (r) => r,
    (err: unknown) => {
      if (err instanceof WorkflowFailedError) {
        const details = resultOfFailedRun(err);
        if (details) return details;
        return { outcome: 'failed', reason: err.cause?.message ?? err.message, steps: [], hosts: [] } as unknown as DeploymentResult;
      }
      throw err;
    },
  );
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
    if (finished) break;
    const s: DeploymentStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
    if (!s) continue;
    const hosts = s.clusters.flatMap((c) => c.hosts);
    const onNew = hosts.filter((h) => h.release === s.release).length;
    const p = res.load?.progress();
    const state = `[${s.step}${s.cluster ? ` ${s.cluster}` : ''}] ${onNew}/${hosts.length} hosts on ${s.release}${s.waitingFor ? `; waiting for ${s.waitingFor}` : ''}`;
    // A line when something changes (or a failure appears), else one every 10 s while waiting.
    const failures = p?.failures ?? 0;
    if (state !== lastState || Date.now() - lastSaid > 10_000 || failures > 0) {
      say(`${state}; requests ${p?.requests ?? 0}, failures ${failures}`);
      lastState = state;
      lastSaid = Date.now();
    }
    const gate = s.pendingGate?.gate;
    if (gate && !answered.has(gate)) {
      answered.add(gate);
      if (opts.yes) {
        await handle.executeUpdate(approveUpdate, {
          args: [{ gate, release: s.release, by: 'demo --yes', reason: 'approved automatically' }],
        });
        say(`Gate ${gate}: approved (--yes)`);
      } else {
        say(
          `Gate ${gate} is waiting.${process.stdin.isTTY ? ' Press a to approve, r to reject; or approve it from another terminal:' : ' Approve it from another terminal:'}`,
        );
        say(
          `  npx bluegreen approve ${handle.workflowId.replace(/^bluegreen-/, '')} ${gate} --address ${res.server?.address} --release ${s.release} --reason "looks good"`,
        );
        say(
          `  ${res.server?.cliPath ?? 'temporal'} workflow update execute --address ${res.server?.address} --workflow-id ${handle.workflowId} --name approveGate --input '{"gate":"${gate}","release":"${s.release}","by":"you"}'`,
        );
        say(`  (or run the demo with --yes to approve automatically)`);
      }
    }
  }
  return done;
}

async function decidePending(handle: Handle, approve: boolean, say: (m: string) => void): Promise<void> {
  const s = await handle.query(statusQuery).catch(() => undefined);
  const gate = s?.pendingGate?.gate;
  if (!gate) return say('No gate is waiting.');
  const by = `${process.env.USER ?? 'demo user'} (keypress)`;
  try {
    await handle.executeUpdate(approve ? approveUpdate : rejectUpdate, { args: [{ gate, release: s?.release, by }] });
    say(`Gate ${gate}: ${approve ? 'approved' : 'rejected'} by ${by}`);
  } catch (err) {
    say(`Gate ${gate}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function printSummary(result: DeploymentResult, report: LoadReport, opts: DemoOptions, say: (m: string) => void): void {
  say('');
  say(`Outcome: ${result.outcome}: ${result.reason}`);
  say('');
  say('host        cluster  release      pool');
  for (const h of result.hosts) say(`${h.host.padEnd(12)}${h.cluster.padEnd(9)}${String(h.release).padEnd(13)}${h.pool}`);
  say('');
  say(
    `Requests ${report.requests}, failed ${report.failures.count}, writes acknowledged ${report.writesAcknowledged}, lost ${report.lostWrites.length}`,
  );
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        outcome: result.outcome,
        reason: result.reason,
        steps: result.steps,
        requests: report.requests,
        loadSeconds: report.seconds,
        rps: report.rps,
        failedRequests: report.failures.count,
        failures: report.failures.list.slice(0, 20),
        lostWrites: report.lostWrites.length,
        writesAcknowledged: report.writesAcknowledged,
        hosts: result.hosts.map((h) => ({ cluster: h.cluster, host: h.host, release: h.release, pool: h.pool })),
        decisions: result.decisions,
      })}\n`,
    );
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
