// A real OpenSSH server on a free loopback port, for tests. Keys are generated per run in a
// temp directory and never leave it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  privatePath: string;
  privateKey: Buffer;
  /** `ssh-ed25519 AAAA... comment` */
  publicLine: string;
  /** The raw public key blob. */
  blob: Buffer;
}

/** A key's "type base64" part, as known_hosts and authorized_keys write it. */
export const keyPart = (k: KeyPair): string => k.publicLine.split(/\s+/).slice(0, 2).join(' ');

/** The known_hosts line that pins `sshd`'s port on 127.0.0.1 to its host key (or to `key`). */
export const knownHostsLine = (sshd: Pick<Sshd, 'port' | 'hostKey'>, key: KeyPair = sshd.hostKey): string =>
  `[127.0.0.1]:${sshd.port} ${keyPart(key)}`;

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function makeKeyPair(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): KeyPair {
  const privatePath = join(dir, name);
  const args = ['-q', '-t', type, '-N', '', '-C', name, '-f', privatePath];
  if (type === 'rsa') args.push('-b', '2048');
  execFileSync('ssh-keygen', args);
  const publicLine = readFileSync(`${privatePath}.pub`, 'utf8').trim();
  const b64 = publicLine.split(/\s+/)[1] ?? '';
  return { privatePath, privateKey: readFileSync(privatePath), publicLine, blob: Buffer.from(b64, 'base64') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Sshd {
  port: number;
  pid: number;
  dir: string;
  hostKey: KeyPair;
  clientKey: KeyPair;
  user: string;
  stop(): void;
}

/** Resolves once sshd prints its SSH banner on the port. */
async function waitForBanner(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.setTimeout(500);
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-2.0'));
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not come up on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSshd(opts: { clientKey?: KeyPair; env?: Record<string, string>; maxSessions?: number } = {}): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true });
  const dir = makeTempDir('bluegreen-sshd-');
  const hostKey = makeKeyPair(dir, 'host_ed25519');
  const clientKey = opts.clientKey ?? makeKeyPair(dir, 'client_ed25519');
  writeFileSync(join(dir, 'authorized_keys'), clientKey.publicLine + '\n');
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey.privatePath}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'StrictModes no', // the temp dir's permissions are not sshd's business in a test
    'UsePAM no',
    'LogLevel ERROR',
    ...Object.entries(opts.env ?? {}).map(([k, v]) => `SetEnv ${k}=${v}`),
    ...(opts.maxSessions ? [`MaxSessions ${opts.maxSessions}`] : []),
  ].join('\n');
  writeFileSync(join(dir, 'sshd_config'), config + '\n');
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const pid = child.pid;
  if (!pid) throw new Error('sshd did not start');
  const stop = () => {
    try {
      // SIGKILL also ends a SIGSTOPped sshd.
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForBanner(port, 5000);
  } catch (err) {
    stop();
    throw new Error(`${(err as Error).message}: ${stderr}`);
  }
  return { port, pid, dir, hostKey, clientKey, user: userInfo().username, stop };
}

/** Runs cleanups newest first; one that throws does not stop the rest. */
export function runCleanups(cleanups: (() => void)[]): void {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      // keep cleaning up the rest
    }
  }
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}
