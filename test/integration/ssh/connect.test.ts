// Against a real OpenSSH server on loopback: each way of failing to reach a host ends in a
// typed error within its deadline, never in a hang.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts, type KnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { createSshClient, SshConnectError, type SshClient } from '../../../src/adapters/ssh/client';
import { freePort, makeKeyPair, makeTempDir, rejection, runCleanups, startSshd, type Sshd, knownHostsLine } from '../../support/sshd';

let sshd: Sshd;
let known: KnownHosts;
let client: SshClient;
let work: string;
const cleanups: (() => void)[] = [];

const target = () => ({ host: '127.0.0.1', port: sshd.port, user: sshd.user });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  sshd = await startSshd();
  cleanups.push(() => sshd.stop());
  work = makeTempDir('bluegreen-sshfail-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  known = parseKnownHosts(`${knownHostsLine(sshd)}\n`);
  client = createSshClient({ privateKey: sshd.clientKey.privateKey, knownHosts: known, connectTimeoutMs: 5000 });
});

afterAll(() => runCleanups(cleanups));

describe('connection failures', () => {
  it('reports a refused connection as SshConnectError (refused)', async () => {
    const port = await freePort();
    const err = await rejection(client.exec({ host: '127.0.0.1', port, user: sshd.user }, 'true', { timeoutMs: 5000 }));
    expect(err).toBeInstanceOf(SshConnectError);
    expect((err as SshConnectError).failure).toBe('refused');
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it('reports a key the host does not accept as SshConnectError (auth), without quoting the key', async () => {
    const stranger = makeKeyPair(work, 'stranger');
    const c = createSshClient({ privateKey: stranger.privateKey, knownHosts: known });
    const err = await rejection(c.exec(target(), 'true', { timeoutMs: 10_000 }));
    expect(err).toBeInstanceOf(SshConnectError);
    expect((err as SshConnectError).failure).toBe('auth');
    expect(err.message).toMatch(/authentication failed/);
    const keyBody = stranger.privateKey.toString().split('\n')[1] ?? 'none';
    expect(JSON.stringify(err) + err.message + err.stack).not.toContain(keyBody.slice(0, 20));
  });

  it('refuses an unusable private key at creation without quoting the key or passphrase', () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right-passphrase', '-f', join(work, 'locked')]);
    const locked = readFileSync(join(work, 'locked'));
    let message = '';
    try {
      createSshClient({ privateKey: locked, passphrase: 'wrong-passphrase-xyz', knownHosts: known });
    } catch (err) {
      message = (err as Error).message + (err as Error).stack;
    }
    expect(message).toMatch(/private key is unusable/);
    expect(message).not.toContain('wrong-passphrase-xyz');
    expect(message).not.toContain(locked.toString().split('\n')[1]?.slice(0, 20));
  });

  describe('with a frozen sshd', () => {
    let frozen: Sshd;
    const stopped: number[] = [];
    beforeAll(async () => {
      frozen = await startSshd({ clientKey: sshd.clientKey });
      cleanups.push(() => frozen.stop());
      cleanups.push(() =>
        stopped.forEach((pid) => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }),
      );
    });

    it('detects a host that freezes during a command by its keepalives', async () => {
      const c = createSshClient({
        privateKey: sshd.clientKey.privateKey,
        knownHosts: parseKnownHosts(knownHostsLine(frozen)),
        keepaliveIntervalMs: 300,
        keepaliveCountMax: 2,
      });
      const running = c.exec({ host: '127.0.0.1', port: frozen.port, user: sshd.user }, 'sleep 31.75', { timeoutMs: 60_000 });
      await sleep(800);
      // Freeze the per-connection sshd processes (children of the listener), not the command.
      const children = execFileSync('pgrep', ['-P', String(frozen.pid)])
        .toString()
        .trim()
        .split(/\s+/)
        .map(Number);
      const all = children.flatMap((pid) => [pid, ...pgrepChildren(pid, 'sshd')]);
      for (const pid of all) {
        process.kill(pid, 'SIGSTOP');
        stopped.push(pid);
      }
      const started = Date.now();
      const err = await rejection(running);
      expect(err).toBeInstanceOf(SshConnectError);
      expect((err as SshConnectError).failure).toBe('lost');
      expect(err.message).toMatch(/keepalive/);
      expect(Date.now() - started).toBeLessThan(5000); // 2 missed keepalives of 300 ms, plus slack for a loaded machine
    });

    it('fails within the connect timeout, not hanging, when sshd is SIGSTOPped', async () => {
      process.kill(frozen.pid, 'SIGSTOP');
      const c = createSshClient({
        privateKey: sshd.clientKey.privateKey,
        knownHosts: parseKnownHosts(knownHostsLine(frozen)),
        connectTimeoutMs: 1500,
      });
      const started = Date.now();
      const err = await rejection(c.exec({ host: '127.0.0.1', port: frozen.port, user: sshd.user }, 'true', { timeoutMs: 30_000 }));
      const took = Date.now() - started;
      expect(err).toBeInstanceOf(SshConnectError);
      expect((err as SshConnectError).failure).toBe('timeout');
      expect(err.message).toMatch(/no SSH handshake within 1500 ms/);
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(4000); // far below the 30 s command timeout and ssh2's 20 s default
    });
  });
});

function pgrepChildren(pid: number, name: string): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-x', name])
      .toString()
      .trim()
      .split(/\s+/)
      .map(Number);
  } catch {
    return [];
  }
}
