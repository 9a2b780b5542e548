// OpenSSH known_hosts parsing and host key verification. ssh2 has no parser of its own and
// accepts any host key unless told otherwise, so this module is the only thing standing
// between the worker and a man in the middle: it errs on the side of refusing.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export const SUPPORTED_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;
export type KeyType = (typeof SUPPORTED_KEY_TYPES)[number];

export type HostMatcher =
  { kind: 'patterns'; patterns: { negated: boolean; pattern: string }[] } | { kind: 'hashed'; salt: Buffer; hmac: Buffer };

export interface KnownHostEntry {
  line: number;
  marker: 'revoked' | undefined;
  hosts: HostMatcher;
  keyType: KeyType;
  key: Buffer;
}

export interface KnownHosts {
  entries: readonly KnownHostEntry[];
  /** Lines that were skipped, and why; callers should log these so an operator sees them. */
  warnings: string[];
}

export type HostKeyVerdict =
  | { ok: true }
  | {
      ok: false;
      reason: 'unknown-host' | 'changed-key' | 'revoked';
      seen: string;
      expected: string[];
    };

/** OpenSSH's `SHA256:` fingerprint of a public key blob (base64 without padding). */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The name a host is looked up by: `host` on port 22, `[host]:port` otherwise, as OpenSSH does. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export async function loadKnownHosts(path: string): Promise<KnownHosts> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read known_hosts file ${path}: ${(err as Error).message}`);
  }
  return parseKnownHosts(text);
}

/**
 * known_hosts as it is now: the file is parsed again whenever its size or mtime changed, so an
 * operator's corrected line takes effect on the next connection, without restarting the worker.
 * A file that cannot be read keeps the last good contents (and says so once).
 */
export function knownHostsFile(path: string, initial: KnownHosts, warn: (message: string) => void): () => KnownHosts {
  let current = initial;
  let stamp = stampOf(path);
  return () => {
    const now = stampOf(path);
    if (now === stamp) return current;
    stamp = now;
    try {
      current = parseKnownHosts(readFileSync(path, 'utf8'));
      for (const w of current.warnings) warn(`${path}: ${w}`);
    } catch (err) {
      warn(`${path}: cannot read it (${(err as Error).message}); keeping the entries read before`);
    }
    return current;
  };
}

function stampOf(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return 'unreadable';
  }
}

export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostEntry[] = [];
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const result = parseLine(trimmed, line);
    if (typeof result === 'string') warnings.push(`known_hosts line ${line}: ${result}`);
    else entries.push(result);
  });
  // Frozen: lookups are remembered per parsed file (see indexOf), so its entries must not change.
  return { entries: Object.freeze(entries), warnings };
}

function parseLine(text: string, line: number): KnownHostEntry | string {
  const fields = text.split(/\s+/);
  let marker: KnownHostEntry['marker'];
  if (fields[0]?.startsWith('@')) {
    const m = fields.shift();
    if (m === '@cert-authority') {
      return 'ignored: @cert-authority entries are not supported (pin host keys directly)';
    }
    if (m !== '@revoked') return `ignored: unknown marker ${m}`;
    marker = 'revoked';
  }
  const [hostField, keyType, keyBase64] = fields;
  if (!hostField || !keyType || !keyBase64) return 'ignored: expected "hosts keytype base64-key"';
  if (!(SUPPORTED_KEY_TYPES as readonly string[]).includes(keyType)) {
    return `ignored: unsupported key type ${keyType}`;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) return 'ignored: key is not valid base64';
  const key = Buffer.from(keyBase64, 'base64');
  // The blob names its own type; a mismatch means a corrupted or hand-edited line.
  const blobType = readBlobType(key);
  if (blobType !== keyType) {
    return `ignored: key blob says ${blobType ?? 'nothing readable'} but the line says ${keyType}`;
  }
  const hosts = parseHosts(hostField);
  if (typeof hosts === 'string') return `ignored: ${hosts}`;
  return { line, marker, hosts, keyType: keyType as KeyType, key };
}

function readBlobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

function parseHosts(field: string): HostMatcher | string {
  if (field.startsWith('|')) {
    const parts = field.split('|');
    // '|1|salt|hmac' splits into ['', '1', salt, hmac]
    if (parts.length !== 4 || parts[1] !== '1') return 'unsupported hashed host format';
    const salt = Buffer.from(parts[2] ?? '', 'base64');
    const hmac = Buffer.from(parts[3] ?? '', 'base64');
    if (salt.length !== 20 || hmac.length !== 20) return 'hashed host has a bad salt or hmac';
    return { kind: 'hashed', salt, hmac };
  }
  const patterns = field
    .split(',')
    .filter((p) => p !== '')
    .map((p) => (p.startsWith('!') ? { negated: true, pattern: p.slice(1) } : { negated: false, pattern: p }));
  if (patterns.length === 0) return 'empty host list';
  return { kind: 'patterns', patterns };
}

/** OpenSSH wildcard matching: `*` any run of characters, `?` one character, case-insensitive. */
function wildcardMatch(name: string, pattern: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
        .join('') +
      '$',
    'is',
  );
  return re.test(name);
}

export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hosts.kind === 'hashed') {
    const digest = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return timingSafeEqual(digest, entry.hosts.hmac);
  }
  let matched = false;
  for (const { negated, pattern } of entry.hosts.patterns) {
    if (!wildcardMatch(name, pattern)) continue;
    // As in OpenSSH, a matching negation vetoes the whole line.
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/**
 * Per parsed known_hosts: each name's pinned entries once looked up, and the revoked keys. A fleet's
 * file has a line per host, so matching every line on every connection cost hosts x lines HMACs (at
 * 1,000 hashed lines, 2,000 per connection). A changed file is a new KnownHosts, with a new index.
 */
interface Index {
  pinned: Map<string, KnownHostEntry[]>;
  revoked: Set<string>;
}
const indexes = new WeakMap<KnownHosts, Index>();

function indexOf(knownHosts: KnownHosts): Index {
  let index = indexes.get(knownHosts);
  if (!index) {
    const revoked = new Set(knownHosts.entries.filter((e) => e.marker === 'revoked').map((e) => e.key.toString('base64')));
    index = { pinned: new Map(), revoked };
    indexes.set(knownHosts, index);
  }
  return index;
}

/** The pinned (non-revoked) entries for a host. */
export function knownKeysFor(knownHosts: KnownHosts, host: string, port: number): KnownHostEntry[] {
  const { pinned } = indexOf(knownHosts);
  const name = knownHostsName(host, port);
  let entries = pinned.get(name);
  if (!entries) {
    entries = knownHosts.entries.filter((e) => e.marker === undefined && entryMatchesHost(e, host, port));
    pinned.set(name, entries);
  }
  return entries;
}

export function verifyHostKey(knownHosts: KnownHosts, host: string, port: number, presentedKeyBlob: Buffer): HostKeyVerdict {
  const pinned = knownKeysFor(knownHosts, host, port);
  // Stricter than OpenSSH: a revoked key is refused for every host, whatever its host
  // patterns say, because a key that leaked once is not trustworthy anywhere.
  const revoked = indexOf(knownHosts).revoked.has(presentedKeyBlob.toString('base64'));
  if (!revoked && pinned.some((e) => e.key.equals(presentedKeyBlob))) return { ok: true };
  const seen = fingerprint(presentedKeyBlob);
  const expected = [...new Set(pinned.map((e) => fingerprint(e.key)))];
  if (revoked) return { ok: false, reason: 'revoked', seen, expected };
  return { ok: false, reason: pinned.length === 0 ? 'unknown-host' : 'changed-key', seen, expected };
}

/**
 * The host key algorithms to offer for a host: only those whose keys are pinned, so a server
 * with several host keys presents one we can check instead of one we would refuse.
 * Undefined when the host is unknown (the verifier then refuses whatever comes).
 */
export function hostKeyAlgorithmsFor(knownHosts: KnownHosts, host: string, port: number): string[] | undefined {
  const types = new Set(knownKeysFor(knownHosts, host, port).map((e) => e.keyType));
  if (types.size === 0) return undefined;
  const algorithms: string[] = [];
  for (const t of SUPPORTED_KEY_TYPES) {
    if (!types.has(t)) continue;
    // An ssh-rsa key is used with the SHA-2 signature algorithms by current servers.
    if (t === 'ssh-rsa') algorithms.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else algorithms.push(t);
  }
  return algorithms;
}
