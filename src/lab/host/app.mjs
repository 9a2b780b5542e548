// The lab's sample app: one HTTP server per host. The same file is every release; its behaviour
// comes from release.json next to it (written into each artifact by `lab up`).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb, schemaVersion, TARGET_VERSION } from './db.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { release, behavior } = JSON.parse(fs.readFileSync(path.join(here, 'release.json'), 'utf8'));
const root = process.env.BG_HOST_ROOT;
if (!root) {
  console.error('app: BG_HOST_ROOT is not set');
  process.exit(1);
}
const host = JSON.parse(fs.readFileSync(path.join(root, 'host.json'), 'utf8'));
const lab = JSON.parse(fs.readFileSync(path.join(host.labDir, 'lab.json'), 'utf8'));
const db = openDb(lab.dbPath, lab.betterSqlite3);
const startedAt = Date.now();
const SLOW_START_MS = 6000;
let stopping = false;

const q = {
  count: db.prepare('SELECT COUNT(*) AS n FROM items'),
  get: db.prepare('SELECT id, value, host, release, created_at FROM items WHERE id = ?'),
  insert: db.prepare('INSERT INTO items (id, value, host, release, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING'),
};
let insertWithTags; // prepared lazily: the column exists only after the migration

let migrated = false;
function isMigrated() {
  if (!migrated) migrated = schemaVersion(db) >= TARGET_VERSION;
  return migrated;
}

function health() {
  if (stopping) return [503, { status: 'stopping' }];
  if (behavior === 'bad-health') return [503, { status: 'unhealthy', reason: 'bad-health release never becomes healthy' }];
  if (behavior === 'slow-start' && Date.now() - startedAt < SLOW_START_MS)
    return [503, { status: 'starting', reason: 'slow-start release is warming up' }];
  if (behavior === 'needs-migration' && !isMigrated())
    return [503, { status: 'unhealthy', reason: 'schema not migrated (run lab-host migrate)' }];
  q.count.get();
  return [200, { status: 'ok' }];
}

function smoke() {
  const { n } = q.count.get();
  if (behavior === 'bad-smoke') return [200, { ok: false, error: 'smoke check answered wrong', items: -1 }];
  if (behavior === 'needs-migration' && !isMigrated()) return [500, { ok: false, error: 'schema not migrated' }];
  return [200, { ok: true, items: n }];
}

function write(body) {
  if (!body || typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 200)
    return [400, { error: 'body must be JSON with a string "id"' }];
  const value = body.value === undefined ? null : String(body.value);
  const now = new Date().toISOString();
  if (behavior === 'needs-migration') {
    if (!isMigrated()) return [500, { error: 'schema not migrated: cannot write tags' }];
    insertWithTags ??= db.prepare(
      'INSERT INTO items (id, value, host, release, created_at, tags) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
    );
    const r = insertWithTags.run(body.id, value, host.name, release, now, JSON.stringify(body.tags ?? []));
    return [r.changes ? 201 : 200, { ok: true, id: body.id, created: r.changes > 0 }];
  }
  const r = q.insert.run(body.id, value, host.name, release, now);
  return [r.changes ? 201 : 200, { ok: true, id: body.id, created: r.changes > 0 }];
}

function send(res, status, payload) {
  const body = JSON.stringify({ ...payload, release, host: host.name });
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('X-Release', release);
  res.setHeader('X-Host', host.name);
  // While stopping, ask clients (HAProxy) not to reuse this connection.
  if (stopping) res.setHeader('Connection', 'close');
  res.writeHead(status);
  res.end(body);
}

// bad-traffic: every fifth request that is not a health check or a smoke test fails, before it
// reads or writes anything (a failed write is never half done).
let trafficSeen = 0;
function failsUnderTraffic() {
  return behavior === 'bad-traffic' && ++trafficSeen % 5 === 0;
}

function route(req, body) {
  const url = new URL(req.url ?? '/', 'http://app');
  if (req.method === 'GET' && url.pathname === '/health') return health();
  if (req.method === 'GET' && url.pathname === '/smoke') return smoke();
  if (failsUnderTraffic()) return [500, { error: 'bad-traffic release fails one request in five' }];
  if (req.method === 'GET' && url.pathname === '/') return [200, { items: q.count.get().n }];
  const item = /^\/items\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && item) {
    const row = q.get.get(decodeURIComponent(item[1]));
    return row ? [200, { item: row }] : [404, { error: 'no such item' }];
  }
  if (req.method === 'POST' && url.pathname === '/items') {
    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch {
      return [400, { error: 'body is not JSON' }];
    }
    return write(parsed);
  }
  return [404, { error: 'not found' }];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      // GET /slow?ms=N: a read that stays in flight, so tests can drain a server mid-request.
      const slow = /^\/slow(?:\?ms=(\d+))?$/.exec(req.url ?? '');
      if (req.method === 'GET' && slow) {
        const ms = Math.min(Number(slow[1] ?? 1000), 10_000);
        await new Promise((r) => setTimeout(r, ms));
        return send(res, 200, { slept: ms, items: q.count.get().n });
      }
      const [status, payload] = route(req, Buffer.concat(chunks).toString('utf8'));
      send(res, status, payload);
    } catch (err) {
      send(res, 500, { error: String(err?.message ?? err) });
    }
  });
});
// Longer than HAProxy's idle-connection purge, so HAProxy closes idle connections first and never
// sends a request on a socket this server is closing.
server.keepAliveTimeout = 30_000;

server.listen(host.appPort, '127.0.0.1', () => {
  console.error(`${new Date().toISOString()} ${host.name} ${release} listening on ${host.appPort} pid ${process.pid}`);
});

process.on('SIGTERM', () => {
  // Graceful: stop accepting, let in-flight requests finish, then exit.
  stopping = true;
  console.error(`${new Date().toISOString()} ${host.name} ${release} SIGTERM: draining`);
  server.close(() => {
    console.error(`${new Date().toISOString()} ${host.name} ${release} drained; exiting`);
    db.close();
    const pidFile = path.join(root, 'app.pid');
    try {
      if (fs.readFileSync(pidFile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(pidFile);
    } catch {}
    process.exit(0);
  });
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  idle.unref();
  setTimeout(() => process.exit(0), 10_000).unref();
});
