// Connection settings for Temporal, read from the environment (worker, CLI, demo alike).
// Secrets (TLS key, API key) are read from files or the environment here and go nowhere else.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const DEFAULT_TASK_QUEUE = 'bluegreen';

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } } | true;
  apiKey?: string;
  /** Base URL of Temporal Web, for links. */
  webUrl: string;
}

type Env = Record<string, string | undefined>;

/** A configuration mistake, named by variable; never quotes a secret's content. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const PEM = {
  certificate: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/,
  privateKey: /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/,
};

function readFileVar(env: Env, name: string): Buffer | undefined {
  const path = env[name];
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why: Record<string, string> = {
      ENOENT: 'no such file',
      EACCES: 'permission denied',
      EISDIR: 'it is a directory, not a file',
    };
    throw new ConfigError(`${name}=${path}: cannot read the file (${why[code] ?? code})`);
  }
}

function readPem(env: Env, name: string, kind: keyof typeof PEM): Buffer | undefined {
  const buf = readFileVar(env, name);
  if (buf === undefined) return undefined;
  if (!PEM[kind].test(buf.toString('utf8'))) {
    const what =
      kind === 'certificate' ? 'a PEM certificate ("-----BEGIN CERTIFICATE-----")' : 'a PEM private key ("-----BEGIN PRIVATE KEY-----")';
    // The content is not quoted: it may be a key put in the wrong variable.
    throw new ConfigError(`${name}=${env[name]}: expected ${what}, found ${buf.length} bytes of something else`);
  }
  return buf;
}

function tlsSwitch(env: Env): boolean | undefined {
  const v = env.TEMPORAL_TLS?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new ConfigError(`TEMPORAL_TLS=${env.TEMPORAL_TLS}: expected 1/true (use TLS) or 0/false (plain text, for a local server only)`);
}

/** The client certificate's key must be its own: refuse a mismatched pair now, not at the handshake. */
function checkPair(crt: Buffer, key: Buffer): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(crt);
  } catch {
    throw new ConfigError(`TEMPORAL_TLS_CERT: the certificate cannot be parsed`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(
      'TEMPORAL_TLS_KEY: the private key cannot be parsed (an encrypted key is not supported: decrypt it into a file only the worker can read)',
    );
  }
  if (!cert.checkPrivateKey(privateKey))
    throw new ConfigError('TEMPORAL_TLS_KEY is not the private key of the certificate in TEMPORAL_TLS_CERT');
}

export function temporalSettings(env: Env = process.env): TemporalSettings {
  const crt = readPem(env, 'TEMPORAL_TLS_CERT', 'certificate');
  const key = readPem(env, 'TEMPORAL_TLS_KEY', 'privateKey');
  if (crt && !key)
    throw new ConfigError('TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: mTLS needs the client certificate and its key');
  if (key && !crt)
    throw new ConfigError('TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: mTLS needs the client certificate and its key');
  if (crt && key) checkPair(crt, key);
  const ca = readPem(env, 'TEMPORAL_TLS_CA', 'certificate');
  if (env.TEMPORAL_API_KEY && env.TEMPORAL_API_KEY_FILE) {
    throw new ConfigError(
      'TEMPORAL_API_KEY and TEMPORAL_API_KEY_FILE are both set: set one (the file keeps the key out of the process environment)',
    );
  }
  let apiKey = env.TEMPORAL_API_KEY?.trim() || undefined;
  const apiKeyFile = readFileVar(env, 'TEMPORAL_API_KEY_FILE');
  if (apiKeyFile) {
    apiKey = apiKeyFile.toString('utf8').trim();
    if (apiKey === '') throw new ConfigError(`TEMPORAL_API_KEY_FILE=${env.TEMPORAL_API_KEY_FILE}: the file is empty`);
    if (/\s/.test(apiKey))
      throw new ConfigError(
        `TEMPORAL_API_KEY_FILE=${env.TEMPORAL_API_KEY_FILE}: expected one API key on one line, found several words or lines`,
      );
  }
  const serverName = env.TEMPORAL_TLS_SERVER_NAME || undefined;
  const switched = tlsSwitch(env);
  if (switched === false && (crt || ca || serverName)) {
    throw new ConfigError('TEMPORAL_TLS=0 contradicts TEMPORAL_TLS_CERT/TEMPORAL_TLS_CA/TEMPORAL_TLS_SERVER_NAME: remove one or the other');
  }
  // An API key implies TLS (Temporal Cloud); TEMPORAL_TLS=0 is the explicit opt-out for a local server.
  const wantTls = switched ?? Boolean(crt || ca || serverName || apiKey);
  const tls = wantTls
    ? crt || ca || serverName
      ? { serverNameOverride: serverName, serverRootCACertificate: ca, clientCertPair: crt && key ? { crt, key } : undefined }
      : (true as const)
    : undefined;
  const address = env.TEMPORAL_ADDRESS || 'localhost:7233';
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(address)) {
    throw new ConfigError(`TEMPORAL_ADDRESS=${address}: expected host:port, e.g. localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233`);
  }
  return {
    address,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.BG_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    tls,
    apiKey,
    webUrl: (env.TEMPORAL_WEB_URL || 'http://localhost:8233').replace(/\/$/, ''),
  };
}

/** What the settings amount to, for a log line: never the key material or the API key itself. */
export function describeSettings(s: TemporalSettings): string {
  const tls =
    s.tls === undefined
      ? 'plain text'
      : s.tls === true
        ? 'TLS (system roots)'
        : `TLS${s.tls.serverRootCACertificate ? ' (own CA)' : ''}${s.tls.clientCertPair ? ', client certificate' : ''}${s.tls.serverNameOverride ? `, server name ${s.tls.serverNameOverride}` : ''}`;
  return `${s.address}, namespace ${s.namespace}, ${tls}${s.apiKey ? ', API key' : ''}`;
}

/** Works for both the client's Connection and the worker's NativeConnection. */
export function connectionOptions(s: TemporalSettings): { address: string; tls?: TemporalSettings['tls'] | false; apiKey?: string } {
  // The SDK turns TLS on whenever an API key is given unless told `false`: TEMPORAL_TLS=0 means plain text.
  return { address: s.address, tls: s.tls ?? (s.apiKey ? false : undefined), apiKey: s.apiKey };
}

export function workflowIdFor(environment: string): string {
  return `bluegreen-${environment}`;
}

export function webLink(s: TemporalSettings, workflowId: string, runId?: string): string {
  const base = `${s.webUrl}/namespaces/${encodeURIComponent(s.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}
