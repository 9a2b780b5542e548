// The bluegreen CLI end to end: the real bin as a child process, the real Temporal server, an
// in-process worker with the in-memory fleet. A run waits at gates so every command has work to do.
// The test waits for states through its own client (cheap); every assertion is on the CLI's output.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { bg, tempDir, uniqueEnv, writePlan } from '../../support/cli';
import { until } from '../../support/wait';

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
const gate = { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' as const };
let dir: string;
const temporal = useTemporal();

beforeAll(async () => {
  dir = tempDir('cli-run');
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const status = (env: string) => temporal.client.workflow.getHandle(`bluegreen-${env}`).query(statusQuery);
const waitFor = (env: string, what: string, pred: (s: Awaited<ReturnType<typeof status>>) => boolean) =>
  until(what, async () => pred(await status(env)), 30_000);

describe('a run with gates, driven by the CLI', () => {
  it('deploy, status, approve (wrong gate refused), pause/resume, abort, watch to the end, history', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('cli-run');
    const planFile = writePlan(dir, 'gated.json', fleet.plan({ environment: env, gates: { promote: gate } }));
    const taskQueue = uniqueId('tq-cli');

    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const started = await bg(['deploy', planFile, '--task-queue', taskQueue, '--by', 'alice']);
      expect(started.stderr).toBe('');
      expect(started.code).toBe(0);
      expect(started.stdout).toMatch(new RegExp(`workflow  bluegreen-${env}`));
      expect(started.stdout).toMatch(/run {7}[0-9a-f-]{36}/);
      expect(started.stdout).toMatch(
        new RegExp(`web       http://localhost:8233/namespaces/default/workflows/bluegreen-${env}/[0-9a-f-]{36}/history`),
      );
      await waitFor(env, 'gate promote-green', (s) => s.pendingGate?.gate === 'promote-green');

      const [again, table, json, wrong] = await Promise.all([
        bg(['deploy', planFile, '--task-queue', taskQueue]),
        bg(['status', env]),
        bg(['status', env, '--json']),
        bg(['approve', env, 'migrate', '--by', 'bob', '--yes']),
      ]);
      // A second start while it runs is refused with the way forward.
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already running/);
      expect(again.stderr).toMatch(/next: follow it: bluegreen status/);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/PENDING GATE promote-green since \d\d:\d\d:\d\d/);
      expect(table.stdout).toMatch(/bluegreen approve .* promote-green/);
      expect(table.stdout).toMatch(/step: verify \(green\)/);
      expect(table.stdout).toMatch(/│ green-1 .*│ v2 .*│ standby .*│ verified/);
      expect(table.stdout).toMatch(/│ blue-1 .*│ v1 .*│ live /);
      expect(table.stdout).toMatch(/│ preflight .*│ \d/);
      expect(JSON.parse(json.stdout)).toMatchObject({ temporalStatus: 'RUNNING', status: { pendingGate: { gate: 'promote-green' } } });
      // An approval for a gate that is not pending is refused by the workflow's Update validator.
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/approve refused by the run: gate migrate is not pending: the pending gate is promote-green/);
      expect(wrong.stderr).toMatch(/next: see the pending gate with: bluegreen status/);

      expect((await bg(['pause', env, '--by', 'carol', '--reason', 'lunch'])).code).toBe(0);
      const ok = await bg(['approve', env, 'promote-green', '--by', 'bob', '--reason', 'looks good', '--yes']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/approved gate promote-green of .* as bob: looks good/);
      await waitFor(env, 'paused', (s) => s.waitingFor === 'resume');
      expect((await bg(['status', env])).stdout).toMatch(/PAUSED/);
      expect((await bg(['resume', env, '--by', 'carol'])).code).toBe(0);

      await waitFor(env, 'gate promote-blue', (s) => s.pendingGate?.gate === 'promote-blue');
      const stale = await bg(['reject', env, 'promote-green', '--by', 'erin', '--yes']);
      expect(stale.code).toBe(1);
      expect(stale.stderr).toMatch(/reject refused by the run: gate promote-green is not pending: the pending gate is promote-blue/);
      const aborted = await bg(['abort', env, '--by', 'dave', '--reason', 'change freeze']);
      expect(aborted.code).toBe(0);
      expect(aborted.stdout).toMatch(/abort requested/);

      // --watch follows to the end (on a pipe: one frame per change) and exits 1: the run rolled back.
      const watched = await bg(['status', env, '--watch', '--interval', '0.5']);
      expect(watched.code).toBe(1);
      expect(watched.stdout).toMatch(/outcome: rolled-back: .*aborted by dave: change freeze/);
      expect(watched.stdout).toMatch(/│ approve .*│ promote-green .*│ bob .*│ looks good/);
      expect(watched.stdout).toMatch(/│ pause .*│ carol .*│ lunch/);

      const late = await bg(['approve', env, 'promote-blue']);
      expect(late.code).toBe(1);
      expect(late.stderr).toMatch(/has already ended/);
    });
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);

    // Visibility is eventually consistent: wait with the client, then ask the CLI once.
    await until(
      'the run in visibility',
      async () => {
        for await (const wf of temporal.client.workflow.list({ query: `BgEnvironment = '${env}' AND BgOutcome = 'rolled-back'` }))
          return wf;
        return undefined;
      },
      20_000,
    );
    const [history, json] = await Promise.all([bg(['history', env]), bg(['history', env, '--json'])]);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/│ alice .*│ v1 → v2 .*│ rolled-back .*│ \d/);
    expect(JSON.parse(json.stdout)[0]).toMatchObject({ startedBy: 'alice', fromRelease: 'v1', release: 'v2', outcome: 'rolled-back' });
  });

  it('deploy --wait follows a run without gates to success and exits 0', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('cli-wait');
    const planFile = writePlan(dir, 'plain.json', fleet.plan({ environment: env }));
    const taskQueue = uniqueId('tq-cli');
    const r = await withWorker(taskQueue, createActivities(fleet.deps()), () =>
      bg(['--task-queue', taskQueue, 'deploy', planFile, '--wait', '--interval', '0.5']),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/hosts on v2/);
    expect(r.stdout).toMatch(/outcome: succeeded/);
    expect([...fleet.releases.values()]).toEqual(['v2', 'v2', 'v2', 'v2']);
  });
  it('deploy --wait --json prints one JSON document (outcome, reason, steps, hosts); exit 0 only if it succeeded', async () => {
    const taskQueue = uniqueId('tq-cli');
    const good = new FakeFleet(HOSTS, 'v1');
    const broken = new FakeFleet(HOSTS, 'v1');
    broken.brokenOn.set('green-1', 'v2');
    const goodPlan = writePlan(dir, 'json-good.json', good.plan({ environment: uniqueEnv('cli-json') }));
    const brokenPlan = writePlan(dir, 'json-broken.json', broken.plan({ environment: uniqueEnv('cli-json') }));
    const deps = (f: FakeFleet) => createActivities(f.deps());
    const wait = (plan: string) => bg(['--task-queue', taskQueue, 'deploy', plan, '--wait', '--json', '--interval', '0.5']);
    const succeeded = await withWorker(taskQueue, deps(good), () => wait(goodPlan));
    const rolledBack = await withWorker(taskQueue, deps(broken), () => wait(brokenPlan));

    // stdout is exactly the document; what a person reads went to stderr.
    expect(succeeded.code).toBe(0);
    expect(succeeded.stderr).toMatch(/^Started the deployment of environment cli-json/);
    const ok = JSON.parse(succeeded.stdout);
    expect(ok).toMatchObject({ outcome: 'succeeded', temporalStatus: 'COMPLETED', release: 'v2', fromRelease: 'v1', exitCode: 0 });
    expect(ok.reason).toMatch(/every cluster runs v2 and is live/);
    expect(ok.steps.map((st: { step: string; cluster?: string }) => `${st.step}${st.cluster ? `:${st.cluster}` : ''}`)).toEqual([
      'preflight',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
      'standby:blue',
      'deploy:blue',
      'verify:blue',
      'live:blue',
      'migrate',
    ]);
    expect(ok.hosts).toHaveLength(4);
    expect(ok.hosts.every((h: { release: string; pool: string }) => h.release === 'v2' && h.pool === 'live')).toBe(true);

    expect(rolledBack.code).toBe(1);
    const bad = JSON.parse(rolledBack.stdout);
    expect(bad).toMatchObject({
      outcome: 'rolled-back',
      temporalStatus: 'FAILED',
      exitCode: 1,
      failure: { kind: 'failure', step: 'deploy', host: 'green-1' },
    });
    expect(bad.reason).toMatch(/^deploy of green failed on green-1: green-1 did not become healthy on v2/);
    expect(bad.hosts.map((h: { host: string; release: string }) => `${h.host}=${h.release}`)).toEqual([
      'green-1=v1',
      'green-2=v1',
      'blue-1=v1',
      'blue-2=v1',
    ]);
    expect(bad.rollback.clusters).toEqual([expect.objectContaining({ cluster: 'green', outcome: 'rolled-back' })]);
  });
});
