// Host jobs (src/activities/host-job.ts) against a real OpenSSH server: a long command outlives
// its SSH connection and the process that held it, a retry collects it instead of running it
// again, two jobs never overlap on a host. The "today" case shows what a plain command does.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { createSshClient, type SshClient } from '../../../src/adapters/ssh/client';
import { wrapForKill } from '../../../src/adapters/ssh/wrapper';
import { renderJob } from '../../../src/activities/host-job';
import { HostFailure, runJobOnHost } from '../../../src/activities/remote';
import { renderCommand, shellQuote } from '../../../src/activities/shell';
import type { HostRef } from '../../../src/activities/types';
import { makeTempDir, rejection, runCleanups, startSshd, type Sshd, knownHostsLine } from '../../support/sshd';

let sshd: Sshd;
let client: SshClient;
let work: string;
let jobs: string;
let knownHostsPath: string;
const cleanups: (() => void)[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const host = (): HostRef => ({
  name: 'h1',
  cluster: 'green',
  ssh: { host: '127.0.0.1', port: sshd.port, user: sshd.user },
  healthUrl: 'http://127.0.0.1:1/health',
});
let seq = 0;
const key = () => [`test-${process.pid}-${Date.now()}-${seq++}`];

beforeAll(async () => {
  work = makeTempDir('bluegreen-hostjob-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  jobs = join(work, 'jobs dir');
  mkdirSync(jobs);
  // The job state goes where the host's environment says, as on the lab's hosts.
  sshd = await startSshd({ env: { BLUEGREEN_JOBS_DIR: jobs.replace(/ /g, '_') } });
  jobs = jobs.replace(/ /g, '_');
  cleanups.push(() => sshd.stop());
  knownHostsPath = join(work, 'known_hosts');
  writeFileSync(knownHostsPath, `${knownHostsLine(sshd)}\n`);
  client = createSshClient({
    privateKey: sshd.clientKey.privateKey,
    knownHosts: parseKnownHosts(readFileSync(knownHostsPath, 'utf8')),
    connectTimeoutMs: 5000,
    killGraceMs: 1000,
  });
  cleanups.push(() => client.close());
});
afterAll(() => runCleanups(cleanups));

/**
 * Runs `command` through OpenSSH's client in its own process, exactly as our client sends it
 * (under the kill wrapper), so the test can SIGKILL the process that holds the connection, as a
 * worker crash does.
 */
function sshProcess(command: string) {
  const child = spawn(
    'ssh',
    [
      '-T',
      '-i',
      sshd.clientKey.privatePath,
      '-p',
      String(sshd.port),
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
      `${sshd.user}@127.0.0.1`,
      wrapForKill(command, 1000),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { kill: async () => (child.kill('SIGKILL'), await exited), exited, output: () => out };
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000) {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('a long host command when the process holding its SSH connection is SIGKILLed', () => {
  it('today (a plain command): it is killed half-way, and a retry runs it again from the start', async () => {
    const log = join(work, 'plain.log');
    const step = `echo start >> ${shellQuote(log)}; sleep 2; echo end >> ${shellQuote(log)}`;
    const first = sshProcess(step);
    await waitFor('the first run to start', () => lines(log).length === 1);
    await first.kill();
    await sleep(3000);
    expect(lines(log)).toEqual(['start']); // killed half-done: it never reached "end"
    const retry = await client.exec(host().ssh, step, { timeoutMs: 10_000 });
    expect(retry.code).toBe(0);
    expect(lines(log)).toEqual(['start', 'start', 'end']); // and ran again from the start
  });

  it('as a job: it runs once, to the end, and the next call collects its exit code and output', async () => {
    const log = join(work, 'job.log');
    const command = `echo start >> ${shellQuote(log)}; echo working; sleep 2; echo end >> ${shellQuote(log)}; echo "done, it's fine" >&2; exit 3`;
    const job = { id: 'a1b2c3d4e5f60001', command, limitSeconds: 30 };
    const first = sshProcess(renderJob(job));
    await waitFor('the job to start', () => lines(log).length === 1);
    await first.kill();
    const collected = await client.exec(host().ssh, renderJob(job), { timeoutMs: 20_000 });
    expect(collected.code).toBe(3);
    expect(collected.stdout).toBe("working\ndone, it's fine\n");
    expect(collected.stderr).toContain('was started before; waiting for it');
    expect(lines(log)).toEqual(['start', 'end']);
    // Collected again (a retry whose connection dropped while collecting): the same answer.
    const again = await client.exec(host().ssh, renderJob(job), { timeoutMs: 20_000 });
    expect([again.code, again.stdout]).toEqual([3, "working\ndone, it's fine\n"]);
    expect(lines(log)).toEqual(['start', 'end']);
  });
});

describe('host jobs', () => {
  it('a job survives a dropped connection of our own client, and the retry collects it', async () => {
    const log = join(work, 'drop.log');
    const command = `echo start >> ${shellQuote(log)}; sleep 2; echo end >> ${shellQuote(log)}; echo migrated`;
    const k = key();
    const ac = new AbortController();
    const first = runJobOnHost(client, host(), command, k, { timeoutMs: 30_000, what: 'migrate', signal: ac.signal });
    await waitFor('the job to start', () => lines(log).length === 1);
    ac.abort(new Error('worker going away')); // TERM to the session and EOF: the wrapper kills its group
    expect((await rejection(first)).name).toBe('SshCancelledError');
    expect(await runJobOnHost(client, host(), command, k, { timeoutMs: 30_000, what: 'migrate' })).toBe('migrated\n');
    expect(lines(log)).toEqual(['start', 'end']);
  });

  it('two different jobs on one host never overlap: the second waits for the host lock and says for which job', async () => {
    const log = join(work, 'overlap.log');
    const job = (name: string) =>
      `echo "${name} start $(date +%s%N)" >> ${shellQuote(log)}; sleep 1; echo "${name} end $(date +%s%N)" >> ${shellQuote(log)}; echo ${name}`;
    const [a, b] = await Promise.all([
      client.exec(host().ssh, renderJob({ id: 'a1b2c3d4e5f60002', command: job('A'), limitSeconds: 30 }), { timeoutMs: 30_000 }),
      sleep(200).then(() =>
        client.exec(host().ssh, renderJob({ id: 'a1b2c3d4e5f60003', command: job('B'), limitSeconds: 30 }), { timeoutMs: 30_000 }),
      ),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(b.stdout).toMatch(/waiting for the host lock: job a1b2c3d4e5f60002 \(pid \d+\) runs on this host/);
    const events = lines(log).map((l) => l.split(' '));
    expect(events.map((e) => `${e[0]} ${e[1]}`)).toEqual(['A start', 'A end', 'B start', 'B end']);
    expect(Number(events[2]?.[2])).toBeGreaterThanOrEqual(Number(events[1]?.[2]));
  });

  it('a job that leaves a process running (an install that restarts the app) is collected when the job ends, not the process', async () => {
    const started = Date.now();
    const r = await client.exec(
      host().ssh,
      renderJob({ id: 'a1b2c3d4e5f60006', command: '(sleep 20.61 </dev/null >/dev/null 2>&1 &); echo restarted', limitSeconds: 60 }),
      { timeoutMs: 60_000 },
    );
    const ms = Date.now() - started;
    try {
      expect([r.code, r.stdout]).toEqual([0, 'restarted\n']);
      expect(ms).toBeLessThan(10_000); // not the 20 s the left-over process lives
    } finally {
      await client.exec(host().ssh, 'pkill -f "^sleep 20.61" || true', { timeoutMs: 10_000 });
    }
  });

  it('a second call while the job runs (a retry from another worker) waits for it and gets the same outcome; the command runs once', async () => {
    const log = join(work, 'twice.log');
    const job = { id: 'a1b2c3d4e5f60007', command: `echo ran >> ${shellQuote(log)}; sleep 0.5; echo polled; exit 5`, limitSeconds: 30 };
    const [first, second] = await Promise.all([
      client.exec(host().ssh, renderJob(job), { timeoutMs: 30_000 }),
      sleep(150).then(() => client.exec(host().ssh, renderJob(job), { timeoutMs: 30_000 })),
    ]);
    expect([first.code, first.stdout]).toEqual([5, 'polled\n']);
    expect([second.code, second.stdout]).toEqual([5, 'polled\n']);
    // One of them started it (usually the first; on a busy machine the second may claim it first).
    expect([first.stderr, second.stderr].filter((e) => e.includes('was started before; waiting for it'))).toHaveLength(1);
    expect(lines(log)).toEqual(['ran']);
  });

  it("a job's non-zero exit is a HostFailure quoting the end of its output", async () => {
    const err = await rejection(
      runJobOnHost(client, host(), 'seq 1 3000; echo "schema v7 failed: table locked" >&2; exit 4', key(), {
        timeoutMs: 30_000,
        what: 'migrate',
      }),
    );
    expect(err).toBeInstanceOf(HostFailure);
    expect(err.message).toMatch(/^h1: "migrate" exited with code 4; output: /);
    expect(err.message).toContain('2999\n3000\nschema v7 failed: table locked');
    expect(err.message.length).toBeLessThan(2200);
  });

  it('a job that outlives its time limit is killed, whole, and reported as such', async () => {
    const r = await client.exec(
      host().ssh,
      renderJob({ id: 'a1b2c3d4e5f60004', command: '(sleep 41.71) & sleep 41.72', limitSeconds: 2 }),
      { timeoutMs: 30_000 },
    );
    expect(r.code).toBe(124);
    expect(r.stdout).toContain('killed: the time limit of 2 s was reached');
    const ps = await client.exec(host().ssh, 'pgrep -f "^sleep 41.7" || true', { timeoutMs: 10_000 });
    expect(ps.stdout.trim()).toBe('');
  });

  it('hostile values stay literal: quotes, $( ), backticks, newlines in the command and in the state directory', async () => {
    const canary = join(work, 'canary');
    const value = `a b'c"d $(touch ${canary}) \`touch ${canary}\` ; touch ${canary}\nline2 \\ %s`;
    const command = renderCommand('printf "%s|" {v}', { v: value });
    const dir = join(work, `state 'x' $(touch ${canary}) "y"`);
    const r = await client.exec(host().ssh, renderJob({ id: 'a1b2c3d4e5f60005', command, limitSeconds: 30, dir }), { timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${value}|`);
    expect(existsSync(canary)).toBe(false);
    expect(existsSync(join(dir, 'j-a1b2c3d4e5f60005', 'rc'))).toBe(true);
  });

  it('refuses an id that is not hex and a time limit that is not a positive integer', () => {
    expect(() => renderJob({ id: 'abc; rm -rf /', command: 'true', limitSeconds: 5 })).toThrow(/job id must be hex/);
    expect(() => renderJob({ id: 'a1b2c3d4', command: 'true', limitSeconds: 0 })).toThrow(/time limit/);
  });
});
