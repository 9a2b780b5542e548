// The host lock of host jobs (src/activities/host-job.ts) when its holder is gone, against a real
// OpenSSH server: a dead runner's lock is taken over, once, and the waiters still take turns.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { createSshClient, type SshClient } from '../../../src/adapters/ssh/client';
import { renderJob } from '../../../src/activities/host-job';
import { shellQuote } from '../../../src/activities/shell';
import { makeTempDir, runCleanups, startSshd, type Sshd, knownHostsLine } from '../../support/sshd';

let sshd: Sshd;
let client: SshClient;
let jobs: string;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  const work = makeTempDir('bluegreen-hostlock-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  jobs = join(work, 'jobs');
  mkdirSync(jobs);
  sshd = await startSshd({ env: { BLUEGREEN_JOBS_DIR: jobs } });
  cleanups.push(() => sshd.stop());
  client = createSshClient({ privateKey: sshd.clientKey.privateKey, knownHosts: parseKnownHosts(`${knownHostsLine(sshd)}\n`) });
  cleanups.push(() => client.close());
});
afterAll(() => runCleanups(cleanups));

/** A pid that no process has any more: one that ran and exited. */
function deadPid(): number {
  const r = spawnSync('/bin/sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

/** The lock as a runner that died while holding it leaves it (see JOB_SCRIPT). */
function leaveLock(dir: string, pid: number, job: string): void {
  mkdirSync(dir);
  writeFileSync(join(dir, 'pid'), `${pid}\n`);
  writeFileSync(join(dir, 'job'), `${job}\n`);
}

const run = (id: string, command: string) =>
  client.exec({ host: '127.0.0.1', port: sshd.port, user: sshd.user }, renderJob({ id, command, limitSeconds: 30 }), { timeoutMs: 40_000 });

describe('host lock whose holder is gone', () => {
  it('is taken over at once, and the job says whose lock it removed', async () => {
    const pid = deadPid();
    leaveLock(join(jobs, 'host.lock'), pid, 'dead0000dead0001');
    const r = await run('b1b2c3d4e5f60001', 'echo installed');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`removing a stale host lock (job dead0000dead0001, pid ${pid} is gone)`);
    expect(r.stdout).toMatch(/installed\n$/);
  });

  it('is taken by one waiter at a time when several find it at once: their jobs never overlap', async () => {
    const log = join(jobs, '..', 'overlap.log');
    leaveLock(join(jobs, 'host.lock'), deadPid(), 'dead0000dead0002');
    const job = (n: number) => `echo "start ${n}" >> ${shellQuote(log)}; sleep 0.3; echo "end ${n}" >> ${shellQuote(log)}`;
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => run(`b1b2c3d4e5f6001${n}`, job(n))));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0]);
    const events = readFileSync(log, 'utf8').trim().split('\n');
    // Each start is followed by its own end: no job ran inside another's.
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toBe(events[i]?.replace('start', 'end'));
    expect(events).toHaveLength(12);
    expect(results.filter((r) => r.stdout.includes('removing a stale host lock'))).toHaveLength(1);
  });
});
