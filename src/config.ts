// Connection settings for Temporal, read from the environment (worker, CLI, demo alike).
// Secrets (TLS key, API key) are read from files or the environment here and go nowhere else.
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

function readFileVar(env: Env, name: string): Buffer | undefined {
  const path = env[name];
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${name}=${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export function temporalSettings(env: Env = process.env): TemporalSettings {
  const crt = readFileVar(env, 'TEMPORAL_TLS_CERT');
  const key = readFileVar(env, 'TEMPORAL_TLS_KEY');
  if ((crt && !key) || (key && !crt)) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)');
  const ca = readFileVar(env, 'TEMPORAL_TLS_CA');
  const apiKeyFile = readFileVar(env, 'TEMPORAL_API_KEY_FILE');
  const apiKey = env.TEMPORAL_API_KEY || apiKeyFile?.toString('utf8').trim() || undefined;
  const wantTls = crt || ca || env.TEMPORAL_TLS === '1' || env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS_SERVER_NAME || apiKey;
  const tls = wantTls
    ? crt || ca || env.TEMPORAL_TLS_SERVER_NAME
      ? {
          serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined,
          serverRootCACertificate: ca,
          clientCertPair: crt && key ? { crt, key } : undefined,
        }
      : (true as const)
    : undefined;
  const address = env.TEMPORAL_ADDRESS || 'localhost:7233';
  return {
    address,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.BG_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    tls,
    apiKey,
    webUrl: (env.TEMPORAL_WEB_URL || 'http://localhost:8233').replace(/\/$/, ''),
  };
}

/** Works for both the client's Connection and the worker's NativeConnection. */
export function connectionOptions(s: TemporalSettings): { address: string; tls?: TemporalSettings['tls']; apiKey?: string } {
  return { address: s.address, tls: s.tls, apiKey: s.apiKey };
}

export function workflowIdFor(environment: string): string {
  return `bluegreen-${environment}`;
}

export function webLink(s: TemporalSettings, workflowId: string, runId?: string): string {
  const base = `${s.webUrl}/namespaces/${encodeURIComponent(s.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}
