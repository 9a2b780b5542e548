// Runs every `temporal workflow ...` command that README.md's "Operating a deployment" section
// documents, against the real test server and real runs (in-memory fleet, in-process worker), so
// the README cannot rot. Only the names change: workflow id, environment, task queue, plan path.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { ActivityDeps } from '../../../src/activities/deps';
import { statusQuery } from '../../../src/workflows/messages';
import type { DeploymentStatus } from '../../../src/workflows/state';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { REPO, tempDir, uniqueEnv, writePlan } from '../../support/cli';
import { until } from '../../support/wait';

/** The documented commands, keyed by subcommand and --name (e.g. "signal approve", "cancel"). */
export function readmeTemporalCommands(readme: string): Map<string, string> {
  const start = readme.indexOf('\n## Operating a deployment');
  if (start < 0) throw new Error('README.md has no "## Operating a deployment" section');
  const rest = readme.slice(start + 1);
  const next = rest.indexOf('\n## ', 3);
  const section = next < 0 ? rest : rest.slice(0, next);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const lines = blocks
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  const out = new Map<string, string>();
  for (const line of lines.filter((l) => l.startsWith('temporal workflow '))) {
    const words = line.split(/\s+/);
    const sub = words[2] === 'update' ? `update ${words[3]}` : (words[2] ?? '');
    const name = /--name (\S+)/.exec(line)?.[1];
    const key = name ? `${sub} ${name}` : sub;
    if (out.has(key)) throw new Error(`README documents "${key}" twice; the test runs each command once`);
    out.set(key, line);
  }
  return out;
}

const documented = readmeTemporalCommands(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8'));
const used = new Set<string>();
const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];

const temporal = useTemporal();
let dir: string;
let env: string;
let workflowId: string;
let taskQueue: string;
let planFile: string;
let fleet = new FakeFleet(HOSTS, 'v1');

beforeAll(async () => {
  dir = tempDir('readme');
  env = uniqueEnv('readme');
  workflowId = `bluegreen-${env}`;
  taskQueue = uniqueId('tq-readme');
  const gate = { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' as const };
  planFile = writePlan(dir, 'plan.json', fleet.plan({ environment: env, gates: { promote: gate } }));
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the README's command for `key` with the test's names and `--address`, through bash as typed. */
async function temporalCli(key: string): Promise<{ code: number; out: string }> {
  const line = documented.get(key);
  if (!line) throw new Error(`README.md does not document "temporal workflow ${key}"`);
  used.add(key);
  const swaps: [RegExp, string][] = [
    [/bluegreen-lab\b/g, workflowId],
    [/BgEnvironment='lab'/g, `BgEnvironment='${env}'`],
    [/--task-queue bluegreen\b/g, `--task-queue ${taskQueue}`],
    [/\.lab\/plan\.json/g, planFile],
  ];
  let cmd = line;
  for (const [re, to] of swaps) cmd = cmd.replace(re, to);
  if (/\blab\b/.test(cmd.replace(/"[^"]*"/g, ''))) throw new Error(`a README name was not replaced in: ${cmd}`);
  cmd = cmd.replace(/^temporal /, `'${inject('temporalCliPath')}' `) + ` --address ${inject('temporalAddress')}`;
  return new Promise((resolve) => {
    execFile('bash', ['-c', cmd], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

async function ok(key: string): Promise<string> {
  const r = await temporalCli(key);
  expect(r.code, `temporal workflow ${key}:\n${r.out}`).toBe(0);
  return r.out;
}

const status = () => temporal.client.workflow.getHandle(workflowId).query(statusQuery) as Promise<DeploymentStatus>;
const pendingGate = (gate: string) => until(`gate ${gate}`, async () => (await status()).pendingGate?.gate === gate, 30_000);

async function outcome(): Promise<string> {
  const handle = temporal.client.workflow.getHandle(workflowId);
  try {
    return (await handle.result()).outcome;
  } catch (err) {
    if (err instanceof WorkflowFailedError) return (await handle.describe()).status.name;
    throw err;
  }
}

/** A fresh in-memory fleet for each run (runs change it), behind one worker. */
const deps: ActivityDeps = {
  ssh: { exec: (t, c, o) => fleet.deps().ssh.exec(t, c, o) },
  lb: (c) => fleet.deps().lb(c),
  http: { checkHealth: (u, o) => fleet.deps().http.checkHealth(u, o), smokeTest: (b, t, o) => fleet.deps().http.smokeTest(b, t, o) },
};

describe('README: Operating a deployment, with the Temporal CLI', () => {
  it('documents at least start, query, signal, update, cancel and list', () => {
    for (const key of ['start', 'query status', 'signal approve', 'update execute approveGate', 'cancel', 'list']) {
      expect([...documented.keys()]).toContain(key);
    }
  });

  it('every documented command works on real runs', async () => {
    await withWorker(taskQueue, createActivities(deps), async () => {
      // Run 1: start, query, approve by signal, approve by update, to success; list and describe.
      fleet = new FakeFleet(HOSTS, 'v1');
      await ok('start');
      await pendingGate('promote-green');
      expect(await ok('query status')).toMatch(/promote-green/);
      await ok('signal approve');
      await pendingGate('promote-blue');
      expect(await ok('update execute approveGate')).toMatch(/approved/);
      expect(await outcome()).toBe('succeeded');
      expect((await status()).decisions.map((d) => `${d.kind}:${d.gate}:${d.by}:${d.reason}`)).toEqual([
        'approve:promote-green:alice:looks good',
        'approve:promote-blue:alice:looks good',
      ]);
      expect(await ok('describe')).toMatch(/Deploy v2 to lab \(from v1\)/);
      const listed = await until(
        'the run in the list',
        async () => {
          const out = await ok('list');
          return out.includes(workflowId) ? out : undefined;
        },
        15_000,
      );
      expect(listed).toMatch(/Completed/);

      // Run 2: a wrong update is refused with the reason; pause, resume, then abort → rolled back.
      fleet = new FakeFleet(HOSTS, 'v1');
      await ok('start');
      await pendingGate('promote-green');
      const refused = await temporalCli('update execute approveGate');
      expect(refused.code).not.toBe(0);
      expect(refused.out).toMatch(/gate promote-blue is not pending: the pending gate is promote-green/);
      await ok('signal pause');
      await ok('signal resume');
      await ok('signal abort');
      expect(await outcome()).toBe('FAILED');
      expect((await status()).outcome).toBe('rolled-back');
      expect((await status()).decisions.map((d) => d.kind)).toEqual(['pause', 'resume', 'abort']);
      expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);

      // Run 3: reject the gate by update → rolled back.
      fleet = new FakeFleet(HOSTS, 'v1');
      await ok('start');
      await pendingGate('promote-green');
      expect(await ok('update execute rejectGate')).toMatch(/rejected/);
      expect(await outcome()).toBe('FAILED');
      expect((await status()).outcome).toBe('rolled-back');

      // Run 4: cancel at the gate → the rollback still runs; the run ends cancelled.
      fleet = new FakeFleet(HOSTS, 'v1');
      await ok('start');
      await pendingGate('promote-green');
      await ok('cancel');
      expect(await outcome()).toBe('CANCELLED');
      expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
      expect(fleet.pools.live.get('green-1')?.admin).toBe('ready');
    });
    expect([...used].sort()).toEqual([...documented.keys()].sort());
  });
});
