// HTTP health and smoke checks. Every request has a connect and a total timeout and reads at most
// a capped body, so a hanging, slow or garbage-spewing endpoint costs bounded time and memory.
import http from 'node:http';
import https from 'node:https';
import type {
  CheckResult,
  HealthCheckOptions,
  RequestOptions as PortRequestOptions,
  SmokeSession,
  SmokeTestOptions,
  SmokeTestSpec,
} from '../../ports/http';

interface RequestOptions extends PortRequestOptions {
  /**
   * Keep-alive agents to reuse connections (smoke sessions). Without them every request has its own
   * connection, closed after the answer: a health check must not leave an idle session on an LB.
   */
  agents?: KeepAliveAgents;
  responderHeader?: string;
}

interface KeepAliveAgents {
  http: http.Agent;
  https: https.Agent;
}

/**
 * Smoke tests on reused connections, at most `maxConnections` per origin, until close() destroys
 * every socket (idle or not), so none outlives the activity. Idle sockets close after 4 s, before
 * the usual 5-10 s keep-alive timeout of HAProxy or nginx, so a request rarely meets a connection
 * the server is closing (get() retries once if it does).
 */
export function smokeSession(maxConnections: number): SmokeSession {
  const opts = { keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections, timeout: 4000, scheduling: 'lifo' as const };
  const agents = { http: new http.Agent(opts), https: new https.Agent(opts) };
  return {
    smokeTest: (baseUrl, test, o) => smokeTestWith(baseUrl, test, o, agents),
    close: () => (agents.http.destroy(), agents.https.destroy()),
  };
}

interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  truncated: boolean;
}

const DEFAULT_MAX_BODY = 64 * 1024;

// Release and host names end up in errors and workflow history: keep them short and printable.
const clean = (v: string) => v.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');

class CheckFailure extends Error {}

/**
 * GET with connect + total timeouts and a body cap; rejects with a CheckFailure saying why. A reused
 * keep-alive connection that the server closed just as the request went out is retried once on a
 * new one (the request never reached the app, and GET is safe to repeat).
 */
async function get(url: URL, opts: RequestOptions): Promise<Fetched> {
  try {
    return await getOnce(url, opts);
  } catch (err) {
    if (err instanceof StaleSocket) return getOnce(url, { ...opts, agents: undefined });
    throw err;
  }
}

class StaleSocket extends CheckFailure {}

function getOnce(url: URL, opts: RequestOptions): Promise<Fetched> {
  const total = opts.timeoutMs;
  const connectMs = Math.min(opts.connectTimeoutMs ?? total, total);
  const cap = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const lib = url.protocol === 'https:' ? https : http;
  const agent = opts.agents ? (url.protocol === 'https:' ? opts.agents.https : opts.agents.http) : undefined;
  return new Promise((resolve, reject) => {
    let done = false;
    let answered = false;
    const finish = (err: Error | null, value?: Fetched, reusable = false) => {
      if (done) return;
      done = true;
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // A response read to its end leaves the socket to the agent for the next request; anything
      // cut short (timeout, cap, error) may have bytes in flight, so that connection is closed.
      if (!reusable) req.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    // Without agents: agent false and Connection: close, so no socket outlives the check (or holds an LB session).
    const req = agent
      ? lib.get(url, { agent, headers: { accept: 'application/json, */*' } })
      : lib.get(url, { agent: false, headers: { connection: 'close', accept: 'application/json, */*' } });
    const totalTimer = setTimeout(() => finish(new CheckFailure(`timed out after ${total} ms`)), total);
    const connectTimer = setTimeout(() => finish(new CheckFailure(`no connection within ${connectMs} ms`)), connectMs);
    const onAbort = () => finish(new CheckFailure('cancelled'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    req.on('socket', (sock) => {
      if (!sock.connecting) clearTimeout(connectTimer);
      else sock.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const message = err.code ? `${err.code}: ${err.message}` : err.message;
      finish(
        req.reusedSocket && !answered && (err.code === 'ECONNRESET' || err.code === 'EPIPE')
          ? new StaleSocket(message)
          : new CheckFailure(message),
      );
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      const deliver = (truncated: boolean) =>
        finish(
          null,
          { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), truncated },
          !truncated && agent !== undefined,
        );
      res.on('data', (chunk: Buffer) => {
        const room = cap - size;
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room));
          size = cap;
          return deliver(true);
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => deliver(false));
      res.on('error', (err) => finish(new CheckFailure(err.message)));
    });
  });
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' && v !== '' ? clean(v) : undefined;
}

interface Identity {
  release?: string;
  host?: string;
  bodyReason?: string;
  conflict?: string;
}

/** Release from `X-Release` or a JSON body's `release`; host from the responder header, `X-Host` or `host`. */
function identify(f: Fetched, responderHeader?: string): Identity {
  let json: Record<string, unknown> | undefined;
  if (!f.truncated) {
    try {
      const parsed: unknown = JSON.parse(f.body);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: headers alone identify the responder.
    }
  }
  const field = (k: string) => (typeof json?.[k] === 'string' && json[k] !== '' ? clean(json[k] as string) : undefined);
  const hRelease = header(f.headers, 'x-release');
  const bRelease = field('release');
  const conflict = hRelease && bRelease && hRelease !== bRelease ? `X-Release says ${hRelease} but the body says ${bRelease}` : undefined;
  return {
    release: hRelease ?? bRelease,
    host: (responderHeader ? header(f.headers, responderHeader.toLowerCase()) : undefined) ?? header(f.headers, 'x-host') ?? field('host'),
    bodyReason: field('reason'),
    conflict,
  };
}

function parseUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http(s) URL: ${u.protocol}`);
  return u;
}

async function run(url: URL, opts: RequestOptions, judge: (f: Fetched, id: Identity) => string): Promise<CheckResult> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    const f = await get(url, opts);
    const id = identify(f, opts.responderHeader);
    const reason = id.conflict ?? judge(f, id);
    return {
      ok: reason === '',
      status: f.status,
      release: id.release,
      host: id.host,
      reason,
      ms: ms(),
      ...(f.truncated ? { truncated: true } : {}),
    };
  } catch (err) {
    if (!(err instanceof CheckFailure)) throw err;
    return { ok: false, status: 0, reason: err.message, ms: ms() };
  }
}

function releaseReason(expected: string | undefined, id: Identity): string {
  if (expected === undefined || id.release === expected) return '';
  const from = id.host ? ` from ${id.host}` : '';
  return id.release === undefined
    ? `expected release ${expected}, but the response${from} named no release`
    : `expected release ${expected}, got ${id.release}${from}`;
}

/** One health check: 2xx, and the expected release when given. */
export async function checkHealth(url: string, opts: HealthCheckOptions): Promise<CheckResult> {
  return run(parseUrl(url), opts, (f, id) => {
    if (f.status < 200 || f.status > 299) return `status ${f.status}${id.bodyReason ? `: ${id.bodyReason}` : ''}`;
    return releaseReason(opts.expectRelease, id);
  });
}

/** One smoke test through `baseUrl` (the standby frontend). Without expectStatus, any 2xx passes. */
export async function smokeTest(baseUrl: string, test: SmokeTestSpec, opts: SmokeTestOptions): Promise<CheckResult> {
  return smokeTestWith(baseUrl, test, opts);
}

async function smokeTestWith(baseUrl: string, test: SmokeTestSpec, opts: SmokeTestOptions, agents?: KeepAliveAgents): Promise<CheckResult> {
  const base = parseUrl(baseUrl);
  const url = new URL(test.path, base);
  // A path such as "//elsewhere/x" would leave the standby frontend: refuse rather than follow.
  if (url.origin !== base.origin) throw new Error(`smoke test path ${JSON.stringify(test.path)} leaves ${base.origin}`);
  const timeoutMs = test.timeoutSeconds !== undefined ? test.timeoutSeconds * 1000 : (opts.timeoutMs ?? 10_000);
  return run(url, { ...opts, timeoutMs, agents }, (f, id) => {
    const okStatus = test.expectStatus !== undefined ? f.status === test.expectStatus : f.status >= 200 && f.status <= 299;
    if (!okStatus) return `${test.path}: status ${f.status}, expected ${test.expectStatus ?? '2xx'}`;
    if (test.expectBodyContains !== undefined && !f.body.includes(test.expectBodyContains)) {
      const within = f.truncated ? ` (first ${f.body.length} bytes read)` : '';
      return `${test.path}: body does not contain ${JSON.stringify(test.expectBodyContains)}${within}`;
    }
    const r = test.expectRelease ? releaseReason(opts.release, id) : '';
    return r && `${test.path}: ${r}`;
  });
}
