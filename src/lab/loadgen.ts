// Load generator: a steady mix of reads and writes through the live frontend, counting every
// failure and checking afterwards that every acknowledged write is in the database.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from './layout';

export interface LoadOptions {
  url: string;
  /** Requests per second (default 200). */
  rps?: number;
  /** Share of requests that are writes, 0..1 (default 0.3). */
  writeRatio?: number;
  timeoutMs?: number;
  /** Check acknowledged writes in this SQLite file; without it, read each one back through `url`. */
  dbPath?: string;
  maxInFlight?: number;
}

export interface LoadFailure {
  at: string;
  reason: string;
  method: string;
  path: string;
}

export interface LoadReport {
  url: string;
  rps: number;
  seconds: number;
  requests: number;
  reads: number;
  writes: number;
  /** Requests not sent because maxInFlight requests were already waiting (the target is too slow). */
  skipped: number;
  failures: { count: number; list: LoadFailure[] };
  releasesPerSecond: { second: number; at: string; releases: Record<string, number> }[];
  hostsSeen: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  writesAcknowledged: number;
  writesFound: number;
  lostWrites: string[];
}

export interface Load {
  stop(): Promise<LoadReport>;
  /** Counters so far, for tests that wait until traffic is flowing. */
  progress(): { requests: number; failures: number };
}

export function startLoad(opts: LoadOptions): Load {
  const rps = opts.rps ?? 200;
  const writeRatio = opts.writeRatio ?? 0.3;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxInFlight = opts.maxInFlight ?? 256;
  const base = new URL(opts.url);
  // Idle sockets are closed by us after 4 s, before HAProxy's 10 s keep-alive timeout: otherwise a
  // request may be sent on a socket the LB is closing at that instant (ECONNRESET), a client-side
  // race that browsers hide by retrying and that says nothing about the deployment.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4000 });
  const runId = randomUUID().slice(0, 8);
  const started = Date.now();
  const failures: LoadFailure[] = [];
  const acked: string[] = [];
  const perSecond = new Map<number, Record<string, number>>();
  const hostsSeen: Record<string, number> = {};
  const latencies: number[] = [];
  let issued = 0;
  let done = 0;
  let reads = 0;
  let writes = 0;
  let skipped = 0;
  let inFlight = 0;
  let seq = 0;
  let stopped = false;
  const idle: (() => void)[] = [];

  const fire = () => {
    const write = Math.random() < writeRatio;
    const readItem = !write && acked.length > 0 && Math.random() < 0.5;
    const id = write ? `${runId}-${++seq}` : undefined;
    const reqPath = write ? '/items' : readItem ? `/items/${encodeURIComponent(acked[Math.floor(Math.random() * acked.length)]!)}` : '/';
    const method = write ? 'POST' : 'GET';
    const body = write ? JSON.stringify({ id, value: `load ${runId}` }) : undefined;
    if (write) writes++;
    else reads++;
    inFlight++;
    const t = Date.now();
    const fail = (reason: string) => failures.push({ at: new Date().toISOString(), reason, method, path: reqPath });
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      done++;
      inFlight--;
      latencies.push(Date.now() - t);
      if (inFlight === 0) idle.splice(0).forEach((f) => f());
    };
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: reqPath,
        method,
        agent,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const release = String(res.headers['x-release'] ?? '?');
          const host = String(res.headers['x-host'] ?? '?');
          const sec = Math.floor((Date.now() - started) / 1000);
          const bucket = perSecond.get(sec) ?? {};
          bucket[release] = (bucket[release] ?? 0) + 1;
          perSecond.set(sec, bucket);
          hostsSeen[host] = (hostsSeen[host] ?? 0) + 1;
          if (status < 200 || status > 299) fail(`HTTP ${status} from ${host}: ${text.slice(0, 200)}`);
          else if (id) acked.push(id);
          finish();
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          fail(`response error: ${e.message}`);
          finish();
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      fail(
        e.message.startsWith('timeout') ? e.message : `connection error: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(),
      );
      finish();
    });
    req.end(body);
  };

  // Paced by elapsed time rather than by timer ticks, so a late tick catches up and the rate holds.
  const tick = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * rps) - issued - skipped;
    for (let i = 0; i < due; i++) {
      if (inFlight >= maxInFlight) {
        skipped++;
        continue;
      }
      issued++;
      fire();
    }
  }, 10);

  return {
    progress: () => ({ requests: done, failures: failures.length }),
    async stop() {
      if (stopped) throw new Error('load already stopped');
      stopped = true;
      clearInterval(tick);
      const seconds = (Date.now() - started) / 1000;
      if (inFlight > 0) await new Promise<void>((r) => idle.push(r));
      const found = opts.dbPath ? findInDb(opts.dbPath, acked) : await findOverHttp(base, agent, acked);
      agent.destroy();
      const lost = acked.filter((id) => !found.has(id));
      latencies.sort((a, b) => a - b);
      const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
      return {
        url: opts.url,
        rps,
        seconds: Math.round(seconds * 10) / 10,
        requests: done,
        reads,
        writes,
        skipped,
        failures: { count: failures.length, list: failures },
        releasesPerSecond: [...perSecond.entries()]
          .sort(([a], [b]) => a - b)
          .map(([second, releases]) => ({ second, at: new Date(started + second * 1000).toISOString(), releases })),
        hostsSeen,
        latencyMs: { p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? 0 },
        writesAcknowledged: acked.length,
        writesFound: found.size,
        lostWrites: lost,
      };
    },
  };
}

function findInDb(dbPath: string, ids: string[]): Set<string> {
  const Database = createRequire(path.join(repoRoot, 'package.json'))('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = db.prepare(`SELECT id FROM items WHERE id IN (${chunk.map(() => '?').join(',')})`).all(...chunk) as { id: string }[];
      for (const r of rows) found.add(r.id);
    }
    return found;
  } finally {
    db.close();
  }
}

async function findOverHttp(base: URL, agent: http.Agent, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const status = await new Promise<number>((resolve) => {
        http
          .get({ host: base.hostname, port: base.port, path: `/items/${encodeURIComponent(id!)}`, agent, timeout: 5000 }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', () => resolve(0));
      });
      if (status === 200) found.add(id);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return found;
}
