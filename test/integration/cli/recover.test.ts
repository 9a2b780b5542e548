// `bluegreen recover` and the README's Temporal CLI equivalent, end to end: the real bin and the
// real `temporal` binary against the test server, an in-process worker with the in-memory fleet,
// a fleet stranded as a failed rollback leaves it (green out of the live pool, in standby, on v2).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { DeploymentResult } from '../../../src/workflows/state';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { REPO, bg, tempDir, uniqueEnv, writePlan } from '../../support/cli';

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
let dir: string;
const temporal = useTemporal();

beforeAll(async () => {
  dir = tempDir('cli-recover');
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function strandedFleet(): FakeFleet {
  const fleet = new FakeFleet(HOSTS, 'v1');
  for (const h of ['green-1', 'green-2']) {
    fleet.releases.set(h, 'v2');
    fleet.pools.live.set(h, { admin: 'maint', up: false, sessions: 0 });
    fleet.pools.standby.set(h, { admin: 'ready', up: true, sessions: 0 });
  }
  return fleet;
}

function expectAllLiveOn(fleet: FakeFleet, release: string): void {
  expect([...fleet.releases.values()]).toEqual(HOSTS.map(() => release));
  expect(HOSTS.map((h) => `${fleet.pools.live.get(h)?.admin}/${fleet.pools.standby.get(h)?.admin}`)).toEqual(
    HOSTS.map(() => 'ready/maint'),
  );
}

/** The `temporal workflow ...` lines of README.md's "Recovering a stranded fleet" section. */
function readmeRecoveryCommands(): string[] {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Recovering a stranded fleet');
  if (start < 0) throw new Error('README.md has no "## Recovering a stranded fleet" section');
  const rest = readme.slice(start + 1);
  const next = rest.indexOf('\n## ', 3);
  const section = next < 0 ? rest : rest.slice(0, next);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('temporal workflow '));
}

describe('bluegreen recover', () => {
  it('recovers a stranded fleet with --wait --json: every host on v1 and live, exit 0', async () => {
    const fleet = strandedFleet();
    const env = uniqueEnv('cli-recover');
    // The plan of the failed deployment, as the operator has it (v1 → v2): recovery ignores both releases.
    const planFile = writePlan(dir, 'plan.json', fleet.plan({ environment: env }));
    const taskQueue = uniqueId('tq-recover');
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const r = await bg([
        'recover',
        env,
        '--to',
        'v1',
        '--plan',
        planFile,
        '--task-queue',
        taskQueue,
        '--wait',
        '--json',
        '--by',
        'alice',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`Started the recovery of ${env} to v1`));
      const summary = JSON.parse(r.stdout) as {
        outcome: string;
        reason: string;
        recovery: NonNullable<DeploymentResult['recovery']>;
        hosts: { host: string; release: string; pool: string }[];
      };
      expect(summary.outcome).toBe('succeeded');
      expect(summary.recovery.clusters.map((c) => `${c.cluster}:${c.action}:${c.outcome}`)).toEqual([
        'green:converge:done',
        'blue:skip:skipped',
      ]);
      expect(summary.recovery.survey.map((h) => `${h.host} ${h.release} ${h.live}`)).toEqual([
        'green-1 v2 MAINT (admin maint)',
        'green-2 v2 MAINT (admin maint)',
        'blue-1 v1 UP',
        'blue-2 v1 UP',
      ]);
      expect(summary.hosts.map((h) => `${h.host} ${h.release} ${h.pool}`)).toEqual(HOSTS.map((h) => `${h} v1 live`));

      const status = await bg(['status', env]);
      expect(status.stdout).toMatch(new RegExp(`RECOVERY of ${env} to v1`));
      expect(status.stdout).toMatch(/Found by the survey/);
    });
    expectAllLiveOn(fleet, 'v1');
  });

  it('refuses a plan of another environment and a bad release, before contacting anything', async () => {
    const fleet = strandedFleet();
    const planFile = writePlan(dir, 'other.json', fleet.plan({ environment: 'other' }));
    const wrongEnv = await bg(['recover', 'lab', '--to', 'v1', '--plan', planFile]);
    expect(wrongEnv.code).toBe(2);
    expect(wrongEnv.stderr).toMatch(/is the plan of environment "other", not "lab"/);
    const badRelease = await bg(['recover', 'other', '--to', 'v1;rm', '--plan', planFile]);
    expect(badRelease.code).toBe(2);
    expect(badRelease.stderr).toMatch(/"v1;rm" is not a release/);
    expect(fleet.contacted).toEqual([]);
  });
});

describe('README: Recovering a stranded fleet, with the Temporal CLI', () => {
  it('the documented temporal command recovers the fleet', async () => {
    const commands = readmeRecoveryCommands();
    expect(commands.map((c) => c.split(/\s+/).slice(0, 3).join(' '))).toEqual(['temporal workflow start']);
    const fleet = strandedFleet();
    const env = uniqueEnv('readme-recover');
    const planFile = writePlan(dir, 'readme-plan.json', fleet.plan({ environment: env }));
    const taskQueue = uniqueId('tq-readme-recover');
    let cmd = (commands[0] ?? '')
      .replace(/bluegreen-lab\b/g, `bluegreen-${env}`)
      .replace(/--task-queue bluegreen\b/g, `--task-queue ${taskQueue}`)
      .replace(/\.lab\/plan\.json/g, planFile);
    expect(/\blab\b/.test(cmd.replace(/"[^"]*"/g, '')), `a README name was not replaced in: ${cmd}`).toBe(false);
    cmd = cmd.replace(/^temporal /, `'${inject('temporalCliPath')}' `) + ` --address ${inject('temporalAddress')}`;
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const out = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile('bash', ['-c', cmd], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
        );
      });
      expect(out.code, out.out).toBe(0);
      const result = (await temporal.client.workflow.getHandle(`bluegreen-${env}`).result()) as DeploymentResult;
      expect(result.outcome).toBe('succeeded');
    });
    expectAllLiveOn(fleet, 'v1');
  });
});
