import { createPublicKey, verify } from 'node:crypto';
import { rmSync } from 'node:fs';
import keyParser from 'ssh2/lib/protocol/keyParser.js';
import type { ParsedKey } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDecodedKey } from '../../../../src/adapters/ssh/signing-key';
import { makeKeyPair, makeTempDir } from '../../../support/sshd';

let dir: string;
const keys: Record<string, ParsedKey> = {};
const parse = (buf: Buffer): ParsedKey => {
  const k = keyParser.parseKey(buf);
  if (k instanceof Error || Array.isArray(k)) throw new Error('one key expected');
  return k;
};

beforeAll(() => {
  dir = makeTempDir('bluegreen-signing-');
  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) keys[type] = parse(makeKeyPair(dir, type, type).privateKey);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = Buffer.from('session id and userauth request');

describe('withDecodedKey', () => {
  it('signs exactly as ssh2 does for ed25519 and for RSA with each hash ssh2 asks for', () => {
    const ed = keys.ed25519 as ParsedKey;
    expect(withDecodedKey(ed).sign(data)).toEqual(ed.sign(data));
    const rsa = keys.rsa as ParsedKey;
    for (const algo of [undefined, 'sha256', 'sha512']) expect(withDecodedKey(rsa).sign(data, algo)).toEqual(rsa.sign(data, algo));
  });

  it('makes ECDSA signatures that the public key verifies with its default hash', () => {
    const ec = keys.ecdsa as ParsedKey;
    const sig = withDecodedKey(ec).sign(data);
    expect(verify('sha256', data, createPublicKey(ec.getPrivatePEM()), sig)).toBe(true);
  });

  it('keeps everything else of the key, so ssh2 still takes it as a parsed key', () => {
    const ed = keys.ed25519 as ParsedKey;
    const fast = withDecodedKey(ed);
    expect(fast.type).toBe('ssh-ed25519');
    expect(fast.getPublicSSH()).toEqual(ed.getPublicSSH());
    expect(keyParser.parseKey(fast)).toBe(fast);
  });

  it('returns an error, as ssh2 does, for a hash the key cannot sign with', () => {
    const out = withDecodedKey(keys.rsa as ParsedKey).sign(data, 'no-such-hash') as unknown;
    expect(out).toBeInstanceOf(Error);
  });
});
