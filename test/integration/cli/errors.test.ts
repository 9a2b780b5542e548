// The bluegreen CLI's error paths: the real bin as a child process against the real Temporal server.
// Exit codes: 2 usage/invalid input, 3 nothing found, 1 the operation failed; each error says what next.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeFleet } from '../../support/fake-fleet';
import { connectClient } from '../../support/temporal';
import { bg, tempDir, uniqueEnv, writePlan } from '../../support/cli';

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
let dir: string;

beforeAll(() => {
  dir = tempDir('cli');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('input errors, without a run', () => {
  it('plan validate: exit 0 with a summary for a valid plan, 1 with the path of every bad field', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const good = writePlan(dir, 'good.json', fleet.plan());
    const ok = await bg(['plan', 'validate', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/valid plan/);
    expect(ok.stdout).toMatch(/environment fake: v1 → v2/);

    const bad = writePlan(dir, 'bad.json', { ...fleet.plan(), parallelism: 0, order: ['green', 'green'] });
    const r = await bg(['plan', 'validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plan\.parallelism: expected at least 1, found 0/);
    expect(r.stderr).toMatch(/plan\.order\[1\]: expected each cluster once/);
    expect(r.stderr).toMatch(/next: fix the fields above/);
  });

  it('deploy of an invalid plan: exit 2 with the path of the bad field; nothing starts', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('cli-bad');
    const bad = writePlan(dir, 'bad-deploy.json', { ...fleet.plan({ environment: env }), release: 'v1' });
    const r = await bg(['deploy', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.release: expected a release different from currentRelease/);
    expect((await bg(['status', env])).code).toBe(3);
  });

  it('a missing plan file, a missing argument and a bad option value are usage errors (exit 2)', async () => {
    const [missing, noGate, badLimit, badEnv] = await Promise.all([
      bg(['deploy', `${dir}/nope.yaml`]),
      bg(['approve', 'lab']),
      bg(['history', 'lab', '--limit', 'x']),
      bg(['status', 'Not_An_Env']),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the plan .*nope\.yaml \(ENOENT\)/);
    expect(missing.stderr).toMatch(/next: /);
    expect(noGate.code).toBe(2);
    expect(noGate.stderr).toMatch(/missing required argument 'gate'/);
    expect(badLimit.code).toBe(2);
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/not an environment name/);
  });

  it('status, history and approve of an environment that never ran: exit 3 and how to start one', async () => {
    const env = uniqueEnv('cli-none');
    const all = [
      ['status', env],
      ['history', env],
      ['approve', env, 'promote-green'],
      ['abort', env],
    ];
    const results = await Promise.all(all.map((args) => bg(args)));
    results.forEach((r, i) => {
      expect(r.code, all[i]?.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/next: start one with: bluegreen deploy PLAN/);
    });
  });

  it('an unreachable server: exit 1, naming the address and what to do', async () => {
    const r = await bg(['status', 'lab', '--address', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/--address/);
  });

  it('a run no worker picks up: deploy warns, status shows what it can and exits 1 naming the task queue', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('cli-noworker');
    const plan = writePlan(dir, 'noworker.json', fleet.plan({ environment: env }));
    const started = await bg(['deploy', plan, '--task-queue', 'nobody-polls-this']);
    const temporal = await connectClient();
    try {
      expect(started.code).toBe(0);
      expect(started.stdout).toMatch(/warning: no worker polls task queue "nobody-polls-this"/);
      const r = await bg(['status', env]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`bluegreen-${env} .* RUNNING`));
      expect(r.stderr).toMatch(/next: make sure a worker polls task queue "nobody-polls-this"/);
    } finally {
      await temporal.client.workflow
        .getHandle(`bluegreen-${env}`)
        .terminate('test cleanup')
        .catch(() => {});
      await temporal.close();
    }
  });
});
