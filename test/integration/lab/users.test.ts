// Who the lab's hosts log in as, and a slow login on purpose. As root the lab logs in as a
// non-root deploy user with /bin/sh (root's own shell is slow here: pyenv), which must own what a
// deployment changes on a host but never read the lab's private key. With slowLoginMs every
// session waits under a per-host lock, so sessions to one host queue while other hosts overlap.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labStatus, labUp, hostRestarts, lookupUser, DEFAULT_DEPLOY_USER, type LabUpResult } from '../../../src/lab';
import { chooseLabUser } from '../../../src/lab/deploy-user';
import type { PlanInput } from '../../../src/plan/schema';
import { getJson, sshExec, tempLabDir, testBasePort } from '../../support/lab-tools';

const SLOW_MS = 700;
const asRoot = process.getuid?.() === 0;
let lab: LabUpResult;
const dir = tempLabDir('lab-users');

const host = (name: string) => lab.hosts.find((h) => h.name === name)!;
const ssh = (name: string, command: string) =>
  sshExec({ port: host(name).sshPort, user: lab.user, keyPath: lab.keyPath, knownHosts: lab.knownHostsPath, command });
const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
};

beforeAll(async () => {
  lab = await labUp({ dir, hostsPerCluster: 2, basePort: testBasePort(2), slowLoginMs: SLOW_MS });
});

afterAll(async () => {
  await labDown(dir);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('lab user', () => {
  it('is the deploy user as root and the current user otherwise; another user needs root', () => {
    if (asRoot) {
      expect(chooseLabUser(undefined)).toBe(process.env.BG_LAB_USER || DEFAULT_DEPLOY_USER);
      expect(chooseLabUser('root')).toBe('root');
      expect(() => chooseLabUser('no such; user')).toThrow(/not a user name/);
    } else {
      expect(() => chooseLabUser('root')).toThrow(/can only let/);
    }
  });

  it.runIf(asRoot && !process.env.BG_LAB_USER)(
    'logs in as a non-root user whose shell is /bin/sh, named in the plan and status',
    async () => {
      expect(lab.user).toBe(DEFAULT_DEPLOY_USER);
      const plan = JSON.parse(fs.readFileSync(lab.planPath, 'utf8')) as PlanInput;
      expect(Object.values(plan.clusters).flatMap((c) => c.hosts.map((h) => h.ssh.user))).toEqual(Array(4).fill(lab.user));
      // $0 is what sshd ran the command with: the user's login shell.
      const r = await ssh('green-1', 'id -u; id -un; echo "$0"; ps -o comm= -p $$');
      const [uid, name, zero, comm] = r.stdout.trim().split('\n');
      expect(r.code).toBe(0);
      expect(Number(uid)).not.toBe(0);
      expect(Number(uid)).toBe(lookupUser(lab.user)!.uid);
      expect(name).toBe(DEFAULT_DEPLOY_USER);
      expect(zero).toMatch(/^(\/bin\/)?sh$/);
      expect(comm).toBe('sh');
      expect(lookupUser(lab.user)!.shell).toBe('/bin/sh');
      const status = await labStatus(dir);
      expect(status).toMatchObject({ user: DEFAULT_DEPLOY_USER, userShell: '/bin/sh', slowLoginMs: SLOW_MS });
    },
  );

  it('cannot read the lab private key, can read authorized_keys, and owns the host roots and the database dir', async () => {
    const key = await ssh('green-1', `cat ${lab.keyPath} >/dev/null && echo READ || echo DENIED`);
    expect(key.stdout).toBe(lab.user === 'root' ? 'READ\n' : 'DENIED\n');
    expect(fs.statSync(lab.keyPath).mode & 0o777).toBe(0o600);
    expect((await ssh('green-1', `test -r ${path.join(path.dirname(lab.keyPath), 'authorized_keys')} && echo READ`)).stdout).toBe('READ\n');
    const root = host('green-1').root;
    const w = await ssh(
      'green-1',
      `for d in "$BG_HOST_ROOT" "$BG_HOST_ROOT/releases" "$BG_HOST_ROOT/logs" ${path.dirname(lab.dbPath)}; do test -w "$d" || echo "not writable: $d"; done; echo done`,
    );
    expect(w.stdout).toBe('done\n');
    expect((await ssh('green-1', 'echo "$BG_HOST_ROOT"')).stdout).toBe(`${root}\n`);
  });

  it('installs a release and restarts the app over SSH with the plan commands, as that user', async () => {
    const plan = JSON.parse(fs.readFileSync(lab.planPath, 'utf8')) as { commands: { install: string; currentRelease: string } };
    const uid = lookupUser(lab.user)!.uid;
    const appUid = (name: string) => {
      const pid = fs.readFileSync(path.join(host(name).root, 'app.pid'), 'utf8').trim();
      return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    };
    // lab up's own install of v1 ran locally as the user too: an install over SSH must stop that app.
    expect(appUid('blue-1')).toBe(uid);
    for (const release of ['v2', 'v1']) {
      const r = await ssh('blue-1', plan.commands.install.replace('{release}', release));
      expect(r, r.stderr).toMatchObject({ code: 0, stdout: `${release}\n` });
      expect((await getJson(`http://127.0.0.1:${host('blue-1').appPort}/health`)).body).toMatchObject({ status: 'ok', release });
      expect(appUid('blue-1')).toBe(uid);
    }
    expect(hostRestarts('blue-1', dir).map((r) => r.release)).toEqual(['v1', 'v2', 'v1']);
    expect(await ssh('blue-1', plan.commands.currentRelease)).toMatchObject({ code: 0, stdout: 'v1\n' });
  });
});

describe(`slow login (${SLOW_MS} ms)`, () => {
  it('makes one session cost at least the delay', async () => {
    const [r, ms] = await timed(() => ssh('green-2', 'true'));
    expect(r.code).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(SLOW_MS);
  });

  it('queues concurrent sessions to one host, while sessions to different hosts overlap', async () => {
    const [same, sameMs] = await timed(() => Promise.all([1, 2, 3].map(() => ssh('green-2', 'true'))));
    const [other, otherMs] = await timed(() => Promise.all(['green-1', 'green-2', 'blue-1'].map((h) => ssh(h, 'true'))));
    console.log(`3 sessions to one host: ${Math.round(sameMs)} ms; to 3 hosts: ${Math.round(otherMs)} ms`);
    expect([...same, ...other].map((r) => r.code)).toEqual(Array(6).fill(0));
    expect(sameMs).toBeGreaterThanOrEqual(3 * SLOW_MS);
    // Different hosts hold different locks: at least one whole delay less than queueing on one.
    expect(otherMs).toBeLessThan(sameMs - SLOW_MS);
  });
});
