// ssh2 signs with the key's PEM text, which OpenSSL 3 decodes again for every signature: 0.48 ms
// per ed25519 signature on this machine kind, against 0.04 ms with a decoded key. A signature is
// made for every new connection, so a preflight of 1,000 hosts spent half a second decoding.
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { ParsedKey } from 'ssh2';
import keyParser from 'ssh2/lib/protocol/keyParser.js';

/** The hash ssh2 signs with when it names none (its per-type default). */
const DEFAULT_HASH: Record<string, string | null> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'ssh-rsa': 'sha1',
};

/**
 * The same key, signing with a key object decoded once. Everything else (public key, type, the
 * marks ssh2 recognises a parsed key by) is the original's, through the prototype. A key of a type
 * not listed, or that OpenSSL cannot decode, is returned as it is.
 */
export function withDecodedKey(key: ParsedKey): ParsedKey {
  const pem = key.getPrivatePEM();
  const fallback = DEFAULT_HASH[key.type];
  if (!pem || fallback === undefined) return key;
  let decoded: KeyObject;
  try {
    decoded = createPrivateKey(pem);
  } catch {
    return key;
  }
  const fast = (data: Buffer | string, algo?: string): Buffer | Error => {
    try {
      return sign(algo ?? fallback, typeof data === 'string' ? Buffer.from(data) : data, decoded);
    } catch (err) {
      // As ssh2's own sign does: the error is returned, not thrown.
      return err as Error;
    }
  };
  return Object.create(key, { sign: { value: fast } }) as ParsedKey;
}

/**
 * The login key as every connection uses it: parsed (and decrypted) once, signing with a decoded
 * key. Throws at once for an unusable key; ssh2's message never quotes the key.
 */
export function parseLoginKey(privateKey: Buffer | string, passphrase?: string): ParsedKey {
  const parsed = keyParser.parseKey(privateKey, passphrase);
  if (parsed instanceof Error) throw new Error(`SSH private key is unusable: ${parsed.message}`);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first) throw new Error('SSH private key is unusable: no key in the file');
  return withDecodedKey(first);
}
