import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fingerprint,
  hostKeyAlgorithmsFor,
  loadKnownHosts,
  parseKnownHosts,
  verifyHostKey,
} from '../../../../src/adapters/ssh/known-hosts';
import { makeKeyPair, makeTempDir, type KeyPair } from '../../../support/sshd';

let dir: string;
let a: KeyPair;
let b: KeyPair;
let ecdsa: KeyPair;
let rsa: KeyPair;

beforeAll(() => {
  dir = makeTempDir('bluegreen-kh-');
  a = makeKeyPair(dir, 'a');
  b = makeKeyPair(dir, 'b');
  ecdsa = makeKeyPair(dir, 'e', 'ecdsa');
  rsa = makeKeyPair(dir, 'r', 'rsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keyPart = (k: KeyPair) => k.publicLine.split(/\s+/).slice(0, 2).join(' ');

describe('fingerprint', () => {
  it('matches ssh-keygen -l for ed25519, ecdsa and rsa keys', () => {
    for (const k of [a, ecdsa, rsa]) {
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${k.privatePath}.pub`]).toString();
      expect(out.split(/\s+/)[1]).toBe(fingerprint(k.blob));
    }
  });
});

describe('parseKnownHosts', () => {
  it('skips comments and blank lines and reads plain, bracketed and list entries', () => {
    const kh = parseKnownHosts(['# comment', '', `web1,10.0.0.1 ${keyPart(a)}`, `[web2]:2222 ${keyPart(b)} a comment`, '   '].join('\n'));
    expect(kh.warnings).toEqual([]);
    expect(kh.entries).toHaveLength(2);
    expect(kh.entries[1]?.line).toBe(4);
  });

  it('ignores @cert-authority lines with a warning that says they are unsupported', () => {
    const kh = parseKnownHosts(`@cert-authority *.example.com ${keyPart(a)}`);
    expect(kh.entries).toEqual([]);
    expect(kh.warnings[0]).toMatch(/line 1: .*@cert-authority.*not supported/);
  });

  it('warns about unsupported key types, bad base64, a blob whose type differs from the line, and short lines', () => {
    const kh = parseKnownHosts(
      [`h ssh-dss AAAAB3NzaC1kc3M=`, `h ssh-ed25519 !!!notbase64`, `h ssh-rsa ${keyPart(a).split(' ')[1]}`, `h ssh-ed25519`].join('\n'),
    );
    expect(kh.entries).toEqual([]);
    expect(kh.warnings).toHaveLength(4);
    expect(kh.warnings[0]).toMatch(/unsupported key type ssh-dss/);
    expect(kh.warnings[1]).toMatch(/not valid base64/);
    expect(kh.warnings[2]).toMatch(/blob says ssh-ed25519 but the line says ssh-rsa/);
  });

  it('loadKnownHosts reads a file and names the path when it cannot', async () => {
    const path = join(dir, 'known_hosts');
    writeFileSync(path, `web1 ${keyPart(a)}\n`);
    expect((await loadKnownHosts(path)).entries).toHaveLength(1);
    await expect(loadKnownHosts(join(dir, 'missing'))).rejects.toThrow(/cannot read known_hosts file .*missing/);
  });
});

describe('verifyHostKey', () => {
  it('accepts the pinned key of a host on port 22 written in plain form', () => {
    const kh = parseKnownHosts(`web1,web1.example.com ${keyPart(a)}`);
    expect(verifyHostKey(kh, 'web1', 22, a.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, 'web1.example.com', 22, a.blob)).toEqual({ ok: true });
  });

  it('looks up other ports as [host]:port only', () => {
    const kh = parseKnownHosts([`web1 ${keyPart(a)}`, `[web2]:2222 ${keyPart(b)}`].join('\n'));
    expect(verifyHostKey(kh, 'web1', 2222, a.blob)).toMatchObject({ ok: false, reason: 'unknown-host', expected: [] });
    expect(verifyHostKey(kh, 'web2', 2222, b.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, 'web2', 22, b.blob)).toMatchObject({ ok: false, reason: 'unknown-host' });
  });

  it('reports a changed key with the fingerprint seen and the one expected', () => {
    const kh = parseKnownHosts(`[127.0.0.1]:2222 ${keyPart(a)}`);
    expect(verifyHostKey(kh, '127.0.0.1', 2222, b.blob)).toEqual({
      ok: false,
      reason: 'changed-key',
      seen: fingerprint(b.blob),
      expected: [fingerprint(a.blob)],
    });
  });

  it('reports an unknown host with the fingerprint seen', () => {
    const kh = parseKnownHosts(`other ${keyPart(a)}`);
    expect(verifyHostKey(kh, 'web1', 22, a.blob)).toEqual({
      ok: false,
      reason: 'unknown-host',
      seen: fingerprint(a.blob),
      expected: [],
    });
  });

  it('accepts any of several pinned keys for one host (key rotation)', () => {
    const kh = parseKnownHosts([`web1 ${keyPart(a)}`, `web1 ${keyPart(ecdsa)}`].join('\n'));
    expect(verifyHostKey(kh, 'web1', 22, ecdsa.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, 'web1', 22, b.blob)).toMatchObject({
      reason: 'changed-key',
      expected: [fingerprint(a.blob), fingerprint(ecdsa.blob)],
    });
  });

  it('matches entries hashed by ssh-keygen -H, for port 22 and [host]:port', () => {
    const path = join(dir, 'hashed');
    writeFileSync(path, [`web1 ${keyPart(a)}`, `[10.1.2.3]:2200 ${keyPart(b)}`].join('\n') + '\n');
    execFileSync('ssh-keygen', ['-H', '-f', path], { stdio: 'ignore' });
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('web1');
    expect(text).toMatch(/^\|1\|/);
    const kh = parseKnownHosts(text);
    expect(kh.warnings).toEqual([]);
    expect(verifyHostKey(kh, 'web1', 22, a.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, '10.1.2.3', 2200, b.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, '10.1.2.3', 22, b.blob)).toMatchObject({ reason: 'unknown-host' });
    expect(verifyHostKey(kh, 'web2', 22, a.blob)).toMatchObject({ reason: 'unknown-host' });
    expect(verifyHostKey(kh, 'web1', 22, b.blob)).toMatchObject({ reason: 'changed-key', expected: [fingerprint(a.blob)] });
  });

  it('refuses a key marked @revoked even when another line pins it, for any host', () => {
    const kh = parseKnownHosts([`web1 ${keyPart(a)}`, `@revoked other ${keyPart(a)}`].join('\n'));
    expect(verifyHostKey(kh, 'web1', 22, a.blob)).toMatchObject({ ok: false, reason: 'revoked', seen: fingerprint(a.blob) });
  });

  it('supports * and ? wildcards and lets a negated pattern veto the line', () => {
    const kh = parseKnownHosts(`web?.example.com,*.lab,!bad.lab ${keyPart(a)}`);
    expect(verifyHostKey(kh, 'web1.example.com', 22, a.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, 'x.y.lab', 22, a.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, 'web10.example.com', 22, a.blob)).toMatchObject({ reason: 'unknown-host' });
    expect(verifyHostKey(kh, 'bad.lab', 22, a.blob)).toMatchObject({ reason: 'unknown-host' });
  });

  it('treats regex metacharacters in patterns literally', () => {
    const kh = parseKnownHosts(`10.0.0.1 ${keyPart(a)}`);
    expect(verifyHostKey(kh, '10a0b0c1', 22, a.blob)).toMatchObject({ reason: 'unknown-host' });
  });
});

describe('lookups per parsed file', () => {
  it('answers a host again from the same parse, and a new parse (a changed file) afresh', () => {
    const before = parseKnownHosts(`web1 ${keyPart(a)}`);
    const after = parseKnownHosts([`web1 ${keyPart(b)}`, `@revoked * ${keyPart(a)}`].join('\n'));
    for (let i = 0; i < 2; i++) {
      expect(verifyHostKey(before, 'web1', 22, a.blob)).toEqual({ ok: true });
      expect(verifyHostKey(after, 'web1', 22, a.blob)).toMatchObject({ reason: 'revoked', expected: [fingerprint(b.blob)] });
      expect(verifyHostKey(after, 'web1', 22, b.blob)).toEqual({ ok: true });
      expect(verifyHostKey(before, 'web1', 22, b.blob)).toMatchObject({ reason: 'changed-key' });
    }
  });

  it('keeps a parsed file unchangeable, so a remembered lookup cannot go stale', () => {
    const kh = parseKnownHosts(`web1 ${keyPart(a)}`);
    expect(verifyHostKey(kh, 'web2', 22, a.blob)).toMatchObject({ reason: 'unknown-host' });
    expect(() => (kh.entries as unknown[]).push(kh.entries[0])).toThrow(TypeError);
    expect(verifyHostKey(kh, 'web2', 22, a.blob)).toMatchObject({ reason: 'unknown-host' });
  });
});

describe('hostKeyAlgorithmsFor', () => {
  it('offers only the algorithms of pinned keys, with SHA-2 variants for RSA', () => {
    const kh = parseKnownHosts([`web1 ${keyPart(a)}`, `web1 ${keyPart(rsa)}`].join('\n'));
    expect(hostKeyAlgorithmsFor(kh, 'web1', 22)).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor(kh, 'nobody', 22)).toBeUndefined();
  });
});
