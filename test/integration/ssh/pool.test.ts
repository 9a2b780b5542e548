// One pooled connection per host, against a real OpenSSH server: reused by consecutive commands,
// closed when idle, re-opened after the host dropped it, and every new connection checks the host
// key against known_hosts as the file is at that moment.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsFile, parseKnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { createSshClient, HostKeyError, type SshClient } from '../../../src/adapters/ssh/client';
import { makeKeyPair, makeTempDir, rejection, runCleanups, startSshd, type KeyPair, type Sshd, knownHostsLine } from '../../support/sshd';

let sshd: Sshd;
let work: string;
const cleanups: (() => void)[] = [];
const target = () => ({ host: '127.0.0.1', port: sshd.port, user: sshd.user });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The client's end of the connection, as the host sees it ($SSH_CLIENT: address, port, ...). */
const clientPort = async (c: SshClient) =>
  (await c.exec(target(), 'echo "$SSH_CLIENT"', { timeoutMs: 10_000 })).stdout.trim().split(' ')[1];

beforeAll(async () => {
  sshd = await startSshd();
  cleanups.push(() => sshd.stop());
  work = makeTempDir('bluegreen-pool-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
});
afterAll(() => runCleanups(cleanups));

function client(opts: { idleMs?: number; knownHostsPath?: string } = {}): SshClient {
  const knownHosts = opts.knownHostsPath
    ? knownHostsFile(opts.knownHostsPath, parseKnownHosts(''), () => {})
    : parseKnownHosts(`${knownHostsLine(sshd)}\n`);
  const c = createSshClient({ privateKey: sshd.clientKey.privateKey, knownHosts, connectTimeoutMs: 5000, idleMs: opts.idleMs });
  cleanups.push(() => c.close());
  return c;
}

describe('the connection pool', () => {
  it('runs consecutive commands to one host over one connection', async () => {
    const c = client();
    const ports = [await clientPort(c), await clientPort(c), await clientPort(c)];
    expect(new Set(ports).size).toBe(1);
    expect(c.connections()).toBe(1);
  });

  it('closes an idle connection, and the next command opens a fresh one', async () => {
    const c = client({ idleMs: 300 });
    const first = await clientPort(c);
    await sleep(800);
    expect(c.connections()).toBe(0);
    expect(await clientPort(c)).not.toBe(first);
  });

  it('re-opens a connection the host dropped, without failing the next command', async () => {
    const c = client();
    const first = await clientPort(c);
    // The host ends our session's sshd processes, children of this test's sshd (as a restart or a
    // network blip would): by PID, nothing else on the machine is touched.
    const sessions = execFileSync('pgrep', ['-P', String(sshd.pid)])
      .toString()
      .trim()
      .split(/\s+/)
      .map(Number);
    expect(sessions.length).toBeGreaterThan(0);
    for (const pid of sessions) process.kill(pid, 'SIGTERM');
    await sleep(500);
    const second = await clientPort(c);
    expect(second).not.toBe(first);
  });

  it('checks known_hosts as it is now on every new connection: a corrected file needs no restart', async () => {
    const path = join(work, 'known_hosts');
    const impostor: KeyPair = makeKeyPair(work, 'impostor');
    writeFileSync(path, `${knownHostsLine(sshd, impostor)}\n`);
    const c = client({ knownHostsPath: path, idleMs: 200 });
    const refused = await rejection(c.exec(target(), 'true', { timeoutMs: 10_000 }));
    expect(refused).toBeInstanceOf(HostKeyError);
    // The operator fixes the line; the same client (worker) connects on its next attempt.
    writeFileSync(path, `# corrected\n${knownHostsLine(sshd)}\n`);
    expect((await c.exec(target(), 'echo ok', { timeoutMs: 10_000 })).stdout.trim()).toBe('ok');
    // And a key changed back to a wrong one is refused again on the next new connection.
    await sleep(500);
    writeFileSync(path, `${knownHostsLine(sshd, impostor)}\n`);
    expect(await rejection(c.exec(target(), 'true', { timeoutMs: 10_000 }))).toBeInstanceOf(HostKeyError);
  });
});

describe('a host whose sshd allows fewer sessions than the pool assumes (MaxSessions 2)', () => {
  it('runs 8 commands at once to completion: refused channels wait for a free one, none is lost', async () => {
    const small = await startSshd({ clientKey: sshd.clientKey, maxSessions: 2 });
    cleanups.push(() => small.stop());
    const c = createSshClient({
      privateKey: small.clientKey.privateKey,
      knownHosts: parseKnownHosts(`${knownHostsLine(small)}\n`),
      connectTimeoutMs: 5000,
    });
    cleanups.push(() => c.close());
    const to = { host: '127.0.0.1', port: small.port, user: small.user };
    // Discarding the connection at the first refusal would kill the commands running on it.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => c.exec(to, `sleep 0.3; echo ${i}`, { timeoutMs: 20_000 })));
    expect(results.map((r) => `${r.code} ${r.stdout.trim()}`)).toEqual(Array.from({ length: 8 }, (_, i) => `0 ${i}`));
    expect(c.connections()).toBe(1);
  });
});
