// `bluegreen approve` binds a decision to what the operator saw: it shows the run, its release and
// the gate, asks before sending (on a terminal), and sends that run id and release, which the run
// checks. The stale-approval case: run A (v2.4.1) was reviewed, rolled back, and run B (v2.5.0-rc)
// now waits at the same gate when the approval is typed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { rejectUpdate, statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { BIN, REPO, bg, tempDir, uniqueEnv, writePlan, type CliResult } from '../../support/cli';
import { until } from '../../support/wait';

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
const gate = { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' as const };
let dir: string;
const temporal = useTemporal();

beforeAll(async () => {
  dir = tempDir('cli-approve');
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the bin on a pseudo-terminal (util-linux `script`), answering its [y/N] question. */
function onTerminal(args: string[], answer: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], {
      cwd: REPO,
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default', NO_COLOR: '1' },
    });
    let out = '';
    let answered = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!answered && out.includes('[y/N]')) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: out.replace(/\r/g, ''), stderr: '' });
    });
  });
}

describe('bluegreen approve: a decision bound to the run and release the operator saw', () => {
  it('a stale approval for run A (v2.4.1) cannot promote run B (v2.5.0-rc) at the same gate', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('stale');
    const taskQueue = uniqueId('tq-stale');
    const plan = (release: string) =>
      writePlan(dir, `${release}.json`, fleet.plan({ environment: env, release, gates: { promote: gate } }));
    const status = () => temporal.client.workflow.getHandle(`bluegreen-${env}`).query(statusQuery);
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      expect((await bg(['deploy', plan('v2.4.1'), '--task-queue', taskQueue])).code).toBe(0);
      await until('run A at the gate', async () => (await status()).pendingGate?.gate === 'promote-green', 30_000);
      const runA = (await temporal.client.workflow.getHandle(`bluegreen-${env}`).describe()).runId;
      // The operator reviews A... meanwhile A is rejected by someone else and rolls back.
      await temporal.client.workflow.getHandle(`bluegreen-${env}`, runA).executeUpdate(rejectUpdate, {
        args: [{ gate: 'promote-green', release: 'v2.4.1', by: 'bob', reason: 'error budget' }],
      });
      await until('run A to end', async () => (await status()).outcome !== undefined, 30_000);
      await until('run B to start', async () => !(await bg(['deploy', plan('v2.5.0-rc'), '--task-queue', taskQueue])).code, 20_000);
      await until(
        'run B at the gate',
        async () => (await status()).pendingGate?.gate === 'promote-green' && (await status()).release === 'v2.5.0-rc',
        30_000,
      );
      const runB = (await temporal.client.workflow.getHandle(`bluegreen-${env}`).describe()).runId;

      // On a terminal: the question names B's run and release; the operator sees it is not A and says no.
      const asked = await onTerminal(['approve', env, 'promote-green', '--by', 'alice'], 'n');
      expect(asked.stdout).toContain(`${env}: run ${runB} deploys v1 → v2.5.0-rc; pending gate promote-green`);
      expect(asked.stdout).toContain(`Approve gate promote-green of release v2.5.0-rc (run ${runB})? [y/N]`);
      expect(asked.stdout).toContain('Not confirmed; nothing was sent.');
      expect(asked.code).toBe(1);

      // Saying which release or run was reviewed: refused before anything is sent.
      const [byRelease, byRun, noTerminal] = await Promise.all([
        bg(['approve', env, 'promote-green', '--by', 'alice', '--release', 'v2.4.1', '--yes']),
        bg(['approve', env, 'promote-green', '--by', 'alice', '--run', runA, '--yes']),
        bg(['approve', env, 'promote-green', '--by', 'alice']),
      ]);
      expect(byRelease.code).toBe(1);
      expect(byRelease.stderr).toContain(
        `error: you reviewed release v2.4.1, but run ${runB} of ${env} deploys v2.5.0-rc; nothing was sent`,
      );
      expect(byRun.code).toBe(1);
      expect(byRun.stderr).toMatch(new RegExp(`run \\(${runA}\\) has already ended \\(FAILED\\); there is nothing to decide`));
      // A script that did not say --yes gets the exact command, bound to what it would approve.
      expect(noTerminal.code).toBe(2);
      expect(noTerminal.stderr).toContain('approve needs a confirmation, and this is not a terminal; nothing was sent');
      expect(noTerminal.stderr).toContain(
        `next: to decide without asking: bluegreen approve ${env} promote-green --release v2.5.0-rc --run ${runB} --yes`,
      );

      const s = await status();
      expect(s.pendingGate?.gate).toBe('promote-green');
      expect(s.decisions).toEqual([]);

      // B's own reviewer confirms: the decision records B's release.
      const yes = await onTerminal(['approve', env, 'promote-green', '--by', 'carol', '--reason', 'rc looks fine'], 'y');
      expect(yes.stdout).toContain(`approved gate promote-green of ${env} release v2.5.0-rc (run ${runB}) as carol: rc looks fine`);
      expect(yes.code).toBe(0);
      await until('gate promote-blue', async () => (await status()).pendingGate?.gate === 'promote-blue', 30_000);
      expect((await status()).decisions).toEqual([
        expect.objectContaining({ kind: 'approve', gate: 'promote-green', release: 'v2.5.0-rc', by: 'carol' }),
      ]);
      expect((await bg(['abort', env, '--by', 'carol'])).code).toBe(0);
      await until('run B to end', async () => (await status()).outcome !== undefined, 30_000);
    });
  });
});
