import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthCheckFailed, waitUntilHealthy } from '../../../../src/activities/health';
import { checkHealth, smokeTest } from '../../../../src/adapters/http/checks';

// One local server whose routes play every kind of endpoint a check can meet.
let server: http.Server;
let base: string;
let warmUntil = 0;
const sockets = new Set<import('node:net').Socket>();

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    switch (req.url) {
      case '/v1':
        return json(res, 200, { status: 'ok', release: 'v1', host: 'green-1' }, { 'X-Release': 'v1', 'X-Host': 'green-1' });
      case '/v2-body-only':
        return json(res, 200, { status: 'ok', release: 'v2', host: 'blue-2' });
      case '/no-release':
        return json(res, 200, { status: 'ok' });
      case '/conflict':
        return json(res, 200, { release: 'v1' }, { 'X-Release': 'v2' });
      case '/unhealthy':
        return json(res, 503, { status: 'unhealthy', reason: 'schema not migrated' }, { 'X-Release': 'v2' });
      case '/hang':
        return; // never answers
      case '/slow-body':
        res.writeHead(200, { 'X-Release': 'v2' });
        res.write('{"rel');
        return; // headers, then nothing
      case '/huge': {
        res.writeHead(200, { 'X-Release': 'v2', 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let sent = 0;
        // Would be 100 MiB if read to the end; the check must stop long before.
        const pump = () => {
          while (sent < 1600 && res.write(chunk)) sent++;
          if (sent < 1600) res.once('drain', pump);
          else res.end();
        };
        return pump();
      }
      case '/garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0x0a]));
      case '/evil-release':
        return json(res, 200, { release: `v2\n\u0000${'A'.repeat(5000)}` });
      case '/warming':
        if (Date.now() < warmUntil) return json(res, 503, { status: 'starting', reason: 'warming up' });
        return json(res, 200, { release: 'v2', host: 'green-2' }, { 'X-Release': 'v2' });
      case '/page':
        res.writeHead(200, { 'X-Release': 'v2', 'X-Host': 'green-1', 'content-type': 'text/html' });
        return res.end('<h1>Welcome to the shop</h1>');
      default:
        return json(res, 404, { error: 'not found' });
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

describe('checkHealth', () => {
  it('passes on 2xx with the expected release and reports release and host from headers', async () => {
    const r = await checkHealth(`${base}/v1`, { expectRelease: 'v1', timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: true, status: 200, release: 'v1', host: 'green-1', reason: '' });
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });

  it('names the release and host it got when the release is wrong', async () => {
    const r = await checkHealth(`${base}/v1`, { expectRelease: 'v2', timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('expected release v2, got v1 from green-1');
  });

  it('reads release and host from a JSON body when there are no headers', async () => {
    const r = await checkHealth(`${base}/v2-body-only`, { expectRelease: 'v2', timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: true, release: 'v2', host: 'blue-2' });
  });

  it('fails when a release is expected and the response names none', async () => {
    const r = await checkHealth(`${base}/no-release`, { expectRelease: 'v2', timeoutMs: 2000 });
    expect(r.reason).toBe('expected release v2, but the response named no release');
  });

  it('fails when header and body disagree on the release', async () => {
    const r = await checkHealth(`${base}/conflict`, { timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('X-Release says v2 but the body says v1');
  });

  it('reports the status and the reason the app gave', async () => {
    const r = await checkHealth(`${base}/unhealthy`, { expectRelease: 'v2', timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: false, status: 503, reason: 'status 503: schema not migrated' });
  });

  it('gives up on a hanging endpoint at the timeout', async () => {
    const r = await checkHealth(`${base}/hang`, { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, status: 0, reason: 'timed out after 300 ms' });
    expect(r.ms).toBeGreaterThanOrEqual(290);
    expect(r.ms).toBeLessThan(1000);
  });

  it('gives up on a body that starts and never ends', async () => {
    const r = await checkHealth(`${base}/slow-body`, { timeoutMs: 300 });
    expect(r.reason).toBe('timed out after 300 ms');
    expect(r.ms).toBeLessThan(1000);
  });

  it('reads at most the body cap of a huge body and stops', async () => {
    const r = await checkHealth(`${base}/huge`, { expectRelease: 'v2', timeoutMs: 5000, maxBodyBytes: 64 * 1024 });
    expect(r).toMatchObject({ ok: true, release: 'v2', truncated: true });
    expect(r.ms).toBeLessThan(2000);
  });

  it('treats a binary body as no release rather than failing to parse', async () => {
    const r = await checkHealth(`${base}/garbage`, { expectRelease: 'v2', timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.reason).toBe('expected release v2, but the response named no release');
  });

  it('keeps a hostile release short and printable', async () => {
    const r = await checkHealth(`${base}/evil-release`, { expectRelease: 'v2', timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.release!.length).toBeLessThanOrEqual(100);
    expect(r.release).toMatch(/^[\x20-\x7e]+$/);
  });

  it('reports a refused connection with its errno', async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const r = await checkHealth(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: false, status: 0 });
    expect(r.reason).toMatch(/^ECONNREFUSED/);
  });

  it('times out connecting to an address that never answers', async () => {
    // 10.255.255.1 is unrouted here: the SYN goes nowhere (or fails fast, which is also bounded).
    const r = await checkHealth('http://10.255.255.1:81/health', { timeoutMs: 2000, connectTimeoutMs: 300 });
    expect(r.ok).toBe(false);
    expect(r.ms).toBeLessThan(1500);
  });
});

describe('smokeTest', () => {
  it('passes when status, body and release all match', async () => {
    const r = await smokeTest(
      base,
      { path: '/page', expectStatus: 200, expectBodyContains: 'Welcome', expectRelease: true },
      { release: 'v2', timeoutMs: 2000 },
    );
    expect(r).toMatchObject({ ok: true, release: 'v2', host: 'green-1' });
  });

  it('names the path, the status and what was expected', async () => {
    const r = await smokeTest(base, { path: '/missing', expectStatus: 200 }, { release: 'v2', timeoutMs: 2000 });
    expect(r.reason).toBe('/missing: status 404, expected 200');
  });

  it('fails when the body lacks the expected text', async () => {
    const r = await smokeTest(base, { path: '/page', expectBodyContains: 'Checkout' }, { release: 'v2', timeoutMs: 2000 });
    expect(r.reason).toBe('/page: body does not contain "Checkout"');
  });

  it('fails on the wrong release and says which host answered', async () => {
    const r = await smokeTest(base, { path: '/v1', expectRelease: true }, { release: 'v2', timeoutMs: 2000 });
    expect(r.reason).toBe('/v1: expected release v2, got v1 from green-1');
  });

  it("uses the test's own timeout", async () => {
    const r = await smokeTest(base, { path: '/hang', expectStatus: 200, timeoutSeconds: 0.2 }, { release: 'v2', timeoutMs: 60_000 });
    expect(r.reason).toBe('timed out after 200 ms');
  });

  it('refuses a path that would leave the standby frontend', async () => {
    await expect(smokeTest(base, { path: '//example.com/x', expectStatus: 200 }, { release: 'v2' })).rejects.toThrow(/leaves/);
  });
});

describe('waitUntilHealthy', () => {
  it('keeps polling a warming endpoint and returns once it is healthy on the release', async () => {
    warmUntil = Date.now() + 600;
    const seen: string[] = [];
    const r = await waitUntilHealthy(`${base}/warming`, {
      check: checkHealth,
      release: 'v2',
      deadlineMs: 5000,
      intervalMs: 100,
      onAttempt: (a) => seen.push(a.reason),
    });
    expect(r.ok).toBe(true);
    expect(r.attempts).toBeGreaterThan(1);
    expect(seen[0]).toBe('status 503: warming up');
  });

  it('fails at the deadline with the last reason, even against a hanging endpoint', async () => {
    const t0 = Date.now();
    const err = await waitUntilHealthy(`${base}/hang`, {
      check: checkHealth,
      release: 'v2',
      deadlineMs: 700,
      intervalMs: 100,
      timeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HealthCheckFailed);
    expect((err as HealthCheckFailed).last.reason).toMatch(/^timed out after \d+ ms$/);
    expect((err as HealthCheckFailed).name).toBe('HealthCheckFailed');
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('fails at the deadline naming the release that is still running', async () => {
    const err = await waitUntilHealthy(`${base}/v1`, { check: checkHealth, release: 'v2', deadlineMs: 300, intervalMs: 100 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/not healthy within 300 ms after \d+ attempts: expected release v2, got v1 from green-1/);
  });
});
