// Smoke tests at scale against a real local HTTP server (node http, real sockets): 500 hosts x 5
// tests, with keep-alive. Each "host" is its own loopback address (127.0.x.y), so direct requests
// really go to 500 distinct origins; the "standby pool" on 127.0.0.1 answers round robin, naming
// the host like HAProxy's `X-Server %s` would.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth, smokeSession, smokeTest } from '../../../src/adapters/http/checks';
import { emptyProgress, runSmoke } from '../../../src/activities/smoke';
import type { SmokeInput } from '../../../src/activities/types';
import { smokeBudgetSeconds } from '../../../src/workflows/activity-calls';
import { planSchema, type PlanInput } from '../../../src/plan/schema';

const HOSTS = 500;
const names = Array.from({ length: HOSTS }, (_, i) => `g-${i + 1}`);
const addr = (i: number) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
const byAddr = new Map(names.map((n, i) => [addr(i), n]));

let server: http.Server;
let port = 0;
let rr = 0;
const connections = { pool: 0, direct: 0 };
const requests = { pool: 0, direct: 0 };
const open = new Set<Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const local = req.socket.localAddress?.replace(/^::ffff:/, '') ?? '';
    const direct = byAddr.get(local);
    const host = direct ?? (names[rr++ % HOSTS] as string);
    requests[direct ? 'direct' : 'pool']++;
    // A little work per request, like an app answering a smoke path.
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-release': 'v2', 'x-server': direct ? '' : host });
      res.end(JSON.stringify({ ok: true, release: 'v2', ...(direct ? { host } : {}) }));
    }, 1);
  });
  server.on('connection', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    connections[byAddr.has(s.localAddress?.replace(/^::ffff:/, '') ?? '') ? 'direct' : 'pool']++;
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of open) s.destroy();
  await new Promise((r) => server.close(r));
});

const tests = Array.from({ length: 5 }, (_, i) => ({
  path: `/smoke/${i}`,
  expectStatus: 200,
  expectBodyContains: '"ok":true',
  expectRelease: true,
  timeoutSeconds: 10,
}));

function plan(mode: 'auto' | 'direct') {
  const hosts = names.map((name, i) => ({
    name,
    ssh: { host: addr(i), port: 22, user: 'deploy' },
    healthUrl: `http://${addr(i)}:${port}/health`,
  }));
  const raw: PlanInput = {
    environment: 'scale',
    release: 'v2',
    currentRelease: 'v1',
    order: ['green', 'blue'],
    clusters: {
      green: { hosts },
      blue: { hosts: [{ name: 'b-1', ssh: { host: '10.9.9.9', port: 22, user: 'deploy' }, healthUrl: 'http://10.9.9.9/health' }] },
    },
    loadBalancer: {
      type: 'haproxy',
      runtimeApi: { socket: '/run/haproxy.sock' },
      liveBackend: 'live',
      standbyBackend: 'standby',
      standbyUrl: `http://127.0.0.1:${port}`,
    },
    commands: { install: 'deploy {release}', currentRelease: 'current' },
    smoke: tests,
    smokeCoverage: { mode, responderHeader: 'X-Server' },
  };
  return planSchema.parse(raw);
}

async function run(mode: 'auto' | 'direct') {
  const p = plan(mode);
  const input: SmokeInput = {
    standbyUrl: p.loadBalancer.standbyUrl,
    tests: p.smoke,
    release: 'v2',
    hosts: names,
    coverage: p.smokeCoverage,
    hostUrls: Object.fromEntries(p.clusters.green!.hosts.map((h) => [h.name, h.healthUrl])),
  };
  const budget = smokeBudgetSeconds(p, HOSTS);
  for (const k of ['pool', 'direct'] as const) {
    connections[k] = 0;
    requests[k] = 0;
  }
  const t0 = performance.now();
  const report = await runSmoke({ checkHealth, smokeTest, smokeSession }, input, {
    signal: AbortSignal.timeout(budget * 1000),
    progress: emptyProgress(),
  });
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `smoke ${HOSTS} hosts x ${tests.length} tests, mode ${mode}: ${seconds.toFixed(3)} s (budget ${budget} s); ` +
      `pool ${requests.pool} requests on ${connections.pool} connections, direct ${requests.direct} requests on ${connections.direct} connections`,
  );
  return { report, seconds, budget };
}

describe('smoke tests at scale, on a local HTTP server', () => {
  it('500 hosts x 5 tests through the pool, every host named, on at most 8 reused connections, well inside the budget', async () => {
    const { report, seconds, budget } = await run('auto');
    expect(report.hostsSeen).toHaveLength(HOSTS);
    expect(report.testedDirectly).toBeUndefined();
    expect(requests.pool).toBe(HOSTS * 2 * tests.length);
    expect(connections.pool).toBeLessThanOrEqual(8 + 2); // 8 lanes; a stale socket may cost a new one
    expect(seconds).toBeLessThan(Math.min(60, budget / 20));
  }, 120_000);

  it('500 hosts x 5 tests, each also directly (mode direct): one reused connection per host', async () => {
    const { report, seconds, budget } = await run('direct');
    expect(report.testedDirectly).toHaveLength(HOSTS);
    expect(requests.direct).toBe(HOSTS * tests.length);
    expect(connections.direct).toBe(HOSTS);
    expect(seconds).toBeLessThan(Math.min(60, budget / 20));
  }, 120_000);
});
