// Against a real OpenSSH server on loopback: what the deployment relies on when it runs
// commands on hosts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, parseKnownHosts, type KnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { renderCommand } from '../../../src/activities/shell';
import { createSshClient, HostKeyError, SshCancelledError, SshTimeoutError, type SshClient } from '../../../src/adapters/ssh/client';
import { makeKeyPair, makeTempDir, rejection, runCleanups, startSshd, type Sshd, knownHostsLine, keyPart } from '../../support/sshd';

let sshd: Sshd;
let known: KnownHosts;
let client: SshClient;
let work: string;
const cleanups: (() => void)[] = [];

const target = () => ({ host: '127.0.0.1', port: sshd.port, user: sshd.user });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** PIDs of processes whose command line starts with `prefix` (the wrapper shell's own line does not). */
const pgrep = (prefix: string) => {
  try {
    return execFileSync('pgrep', ['-f', `^${prefix}`])
      .toString()
      .trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
};

beforeAll(async () => {
  sshd = await startSshd();
  cleanups.push(() => sshd.stop());
  work = makeTempDir('bluegreen-ssh-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  known = parseKnownHosts(`${knownHostsLine(sshd)}\n`);
  client = createSshClient({ privateKey: sshd.clientKey.privateKey, knownHosts: known, connectTimeoutMs: 5000, killGraceMs: 1000 });
  cleanups.push(() => client.close());
});

afterAll(() => runCleanups(cleanups));

describe('exec on a host with a pinned key', () => {
  it('returns stdout, stderr and a non-zero exit code without throwing', async () => {
    const r = await client.exec(target(), 'echo out; echo err >&2; exit 3', { timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n', truncated: false });
  });

  it('runs as the configured user, with a closed stdin', async () => {
    const r = await client.exec(target(), 'id -un; cat; echo done', { timeoutMs: 10_000 });
    expect(r.stdout).toBe(`${sshd.user}\ndone\n`);
  });

  it('passes hostile values rendered by renderCommand to the remote shell as literal text', async () => {
    const canary = join(work, 'canary');
    for (const value of [`$(touch ${canary})`, `v2; touch ${canary}`, `\`touch ${canary}\``, `a'b\nc"d`]) {
      const r = await client.exec(target(), renderCommand('printf %s {v}', { v: value }), { timeoutMs: 10_000 });
      expect(r.stdout).toBe(value);
    }
    expect(existsSync(canary)).toBe(false);
  });

  it('reports the output tail through onOutput while the command runs', async () => {
    const tails: string[] = [];
    const r = await client.exec(target(), 'for i in 1 2 3 4; do echo line$i; sleep 0.25; done', {
      timeoutMs: 10_000,
      onOutput: (t) => tails.push(t),
      onOutputIntervalMs: 200,
    });
    expect(r.code).toBe(0);
    expect(tails.length).toBeGreaterThanOrEqual(3);
    expect(tails[0]).toContain('line1');
    expect(tails.at(-1)).toContain('line4');
  });

  it('runs 8 commands at once (one connection each, so sshd MaxSessions does not apply)', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => client.exec(target(), `echo ${i}`, { timeoutMs: 10_000 })));
    expect(results.map((r) => r.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });
  it('leaves a process that left the session (a restarted daemon) running after a normal exit', async () => {
    const r = await client.exec(target(), 'setsid sleep 31.81 </dev/null >/dev/null 2>&1 & echo started', { timeoutMs: 10_000 });
    expect(r.stdout).toBe('started\n');
    await sleep(300);
    const pids = pgrep('sleep 31.81');
    expect(pids).not.toBe('');
    for (const pid of pids.split(/\s+/)) process.kill(Number(pid), 'SIGKILL');
  });
});

describe('host key checking', () => {
  it('refuses a host whose key differs from known_hosts, naming both fingerprints', async () => {
    const other = makeKeyPair(work, 'impostor');
    const wrong = createSshClient({
      privateKey: sshd.clientKey.privateKey,
      knownHosts: parseKnownHosts(knownHostsLine(sshd, other)),
    });
    const err = await rejection(wrong.exec(target(), 'touch /tmp/should-not-run', { timeoutMs: 10_000 }));
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as HostKeyError).reason).toBe('changed-key');
    expect(err.message).toContain(`127.0.0.1:${sshd.port}`);
    expect(err.message).toContain(`seen ${fingerprint(sshd.hostKey.blob)}`);
    expect(err.message).toContain(`expected ${fingerprint(other.blob)}`);
  });

  it('refuses an unknown host; a plain entry (port 22 form) does not cover another port', async () => {
    const plain = createSshClient({
      privateKey: sshd.clientKey.privateKey,
      knownHosts: parseKnownHosts(`127.0.0.1 ${keyPart(sshd.hostKey)}`),
    });
    const err = await rejection(plain.exec(target(), 'true', { timeoutMs: 10_000 }));
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as HostKeyError).reason).toBe('unknown-host');
    expect(err.message).toContain(`"[127.0.0.1]:${sshd.port}"`);
    expect(err.message).toContain(fingerprint(sshd.hostKey.blob));
  });

  it('accepts a hashed entry written by ssh-keygen -H', async () => {
    const path = join(work, 'known_hosts_hashed');
    writeFileSync(path, `${knownHostsLine(sshd)}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', path], { stdio: 'ignore' });
    const hashedText = readFileSync(path, 'utf8');
    expect(hashedText).not.toContain('127.0.0.1');
    const hashed = createSshClient({ privateKey: sshd.clientKey.privateKey, knownHosts: parseKnownHosts(hashedText) });
    expect((await hashed.exec(target(), 'echo ok', { timeoutMs: 10_000 })).stdout).toBe('ok\n');
  });

  it('refuses a key marked @revoked', async () => {
    const revoked = createSshClient({
      privateKey: sshd.clientKey.privateKey,
      knownHosts: parseKnownHosts(`${knownHostsLine(sshd)}\n@revoked * ${keyPart(sshd.hostKey)}`),
    });
    const err = await rejection(revoked.exec(target(), 'true', { timeoutMs: 10_000 }));
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(/@revoked/);
  });
});

describe('stopping commands', () => {
  it('kills a command that exceeds its timeout, including background and TERM-ignoring children', async () => {
    const marker = join(work, 'timeout-marker');
    const started = Date.now();
    const err = await rejection(
      client.exec(target(), `(sleep 31.71) & sh -c "trap '' TERM; sleep 31.72" & sleep 2; touch ${marker}`, { timeoutMs: 500 }),
    );
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect((err as SshTimeoutError).remoteStopped).toBe(true);
    expect(err.message).toMatch(/timed out after 500 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(pgrep('sleep 31.71')).toBe('');
    expect(pgrep('sleep 31.72')).toBe('');
    await sleep(Math.max(0, started + 2600 - Date.now()));
    expect(existsSync(marker)).toBe(false);
  });

  it('stops the remote command when the AbortSignal fires', async () => {
    const marker = join(work, 'abort-marker');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('operator abort')), 300);
    const err = await rejection(client.exec(target(), `sleep 31.73; touch ${marker}`, { timeoutMs: 60_000, signal: ac.signal }));
    expect(err).toBeInstanceOf(SshCancelledError);
    expect(err.message).toMatch(/cancelled \(operator abort\)/);
    expect(pgrep('sleep 31.73')).toBe('');
  });

  it('rejects at once, without connecting, when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(client.exec(target(), 'true', { timeoutMs: 1000, signal: ac.signal })).rejects.toBeInstanceOf(SshCancelledError);
  });

  it('close() cancels running commands and refuses new ones', async () => {
    const c = createSshClient({ privateKey: sshd.clientKey.privateKey, knownHosts: known, killGraceMs: 1000 });
    const running = c.exec(target(), 'sleep 31.74', { timeoutMs: 60_000 });
    await sleep(500);
    c.close();
    expect(await rejection(running)).toBeInstanceOf(SshCancelledError);
    expect(pgrep('sleep 31.74')).toBe('');
    await expect(c.exec(target(), 'true', { timeoutMs: 1000 })).rejects.toThrow(/closed/);
  });
});

describe('bounded output', () => {
  it('reads 50 MB of binary output with bounded memory and returns head and tail, truncated', async () => {
    // Retained memory, not garbage: each sample collects first, so the figure does not depend on
    // when V8 would have run its GC on a busy machine.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
    }, 50);
    const started = Date.now();
    const r = await client.exec(target(), 'echo START; head -c 50000000 /dev/urandom; echo; echo END; head -c 3000000 /dev/urandom >&2', {
      timeoutMs: 60_000,
      maxOutputBytes: 64 * 1024,
    });
    clearInterval(sampler);
    console.log(`50 MB in ${Date.now() - started} ms, peak extra memory ${(peak / 1e6).toFixed(1)} MB`);
    expect(r.code).toBe(0);
    expect(r.truncated).toBe(true);
    expect(r.stdoutBytes).toBe(50_000_000 + 'START\n\nEND\n'.length);
    expect(r.stderrBytes).toBe(3_000_000);
    expect(r.stdout.startsWith('START\n')).toBe(true);
    expect(r.stdout.endsWith('\nEND\n')).toBe(true);
    expect(r.stdout).toMatch(/\[\.\.\. \d+ bytes omitted \.\.\.\]/);
    expect(r.stdout.length).toBeLessThan(64 * 1024 + 100);
    expect(r.stderr.length).toBeLessThan(64 * 1024 + 100);
    // Keeping everything would hold 53 MB of buffers alone; what is kept is two 64 KB windows and
    // whatever ssh2 holds in flight.
    expect(peak).toBeLessThan(25e6);
  });
});
