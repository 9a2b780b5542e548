// Against a real OpenSSH server: every kind of key the worker may be given logs in. The client signs
// with a key object decoded once (src/adapters/ssh/signing-key.ts), so each key type's signature,
// and RSA's SHA-2 variant that sshd asks for, is proven here by sshd itself.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts, type KnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { createSshClient } from '../../../src/adapters/ssh/client';
import { makeKeyPair, makeTempDir, runCleanups, startSshd, type Sshd, knownHostsLine } from '../../support/sshd';

let sshd: Sshd;
let known: KnownHosts;
let work: string;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  cleanups.push(() => sshd.stop());
  work = makeTempDir('bluegreen-login-keys-');
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  known = parseKnownHosts(`${knownHostsLine(sshd)}\n`);
});

afterAll(() => runCleanups(cleanups));

/** Lets `publicLine` log in (sshd reads authorized_keys at every login). */
const authorize = (publicLine: string) => appendFileSync(join(sshd.dir, 'authorized_keys'), publicLine + '\n');

async function whoami(privateKey: Buffer, passphrase?: string): Promise<string> {
  const client = createSshClient({ privateKey, passphrase, knownHosts: known, connectTimeoutMs: 10_000 });
  try {
    const r = await client.exec({ host: '127.0.0.1', port: sshd.port, user: sshd.user }, 'id -un', { timeoutMs: 10_000 });
    expect(r.code).toBe(0);
    return r.stdout.trim();
  } finally {
    client.close();
  }
}

describe('login keys', () => {
  it('logs in with an RSA key (signed with the SHA-2 hash sshd asks for) and with an ECDSA key', async () => {
    for (const type of ['rsa', 'ecdsa'] as const) {
      const key = makeKeyPair(work, `login_${type}`, type);
      authorize(key.publicLine);
      expect(await whoami(key.privateKey)).toBe(sshd.user);
    }
  });

  it('logs in with a passphrase-protected ed25519 key, decrypted once at creation', async () => {
    const path = join(work, 'locked_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-C', 'locked', '-f', path]);
    authorize(readFileSync(`${path}.pub`, 'utf8').trim());
    expect(await whoami(readFileSync(path), 'a passphrase')).toBe(sshd.user);
  });
});
