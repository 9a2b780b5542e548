// A real HAProxy 2.6 in a temp dir, in front of tiny node:http apps started in the test process.
// Backends `live` and `standby` hold the same servers (standby ones `disabled`), as in the lab.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const HAPROXY = '/usr/sbin/haproxy';

export interface App {
  name: string;
  port: number;
  healthy: boolean;
  server: http.Server;
  /** Resolvers of /hold requests still open. */
  held: Array<() => void>;
}

/** /health (200 or 503), /slow?ms=N, /hold (until released), /fail (500), anything else: 200 naming the app. */
export async function startApp(name: string, healthy = true): Promise<App> {
  const app: App = { name, port: 0, healthy, server: http.createServer(), held: [] };
  app.server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = () => {
      if (!res.destroyed) res.writeHead(200, { 'X-Host': name }).end(`hello from ${name}\n`);
    };
    if (url.pathname === '/health') return void res.writeHead(app.healthy ? 200 : 503).end();
    if (url.pathname === '/slow') return void setTimeout(reply, Number(url.searchParams.get('ms') ?? 1000));
    if (url.pathname === '/hold') return void app.held.push(reply);
    if (url.pathname === '/fail') return void res.writeHead(500, { 'X-Host': name }).end('failing on purpose\n');
    reply();
  });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as net.AddressInfo).port;
  return app;
}

export async function stopApp(app: App): Promise<void> {
  for (const release of app.held.splice(0)) release();
  app.server.closeAllConnections();
  await new Promise((r) => app.server.close(r));
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Haproxy {
  dir: string;
  socket: string;
  /** The same Runtime API over TCP. */
  apiPort: number;
  liveUrl: string;
  standbyUrl: string;
  child: ChildProcess;
  log: () => string;
}

export async function startHaproxy(apps: App[]): Promise<Haproxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-haproxy-'));
  const socket = path.join(dir, 'admin.sock');
  const [livePort, standbyPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const servers = (extra: string) => apps.map((a) => `  server ${a.name} 127.0.0.1:${a.port} check${extra}`).join('\n');
  // `use-server` on X-Pin lets a test put a request on a chosen server, drained or not.
  const pins = apps.map((a) => `  use-server ${a.name} if { req.hdr(x-pin) -m str ${a.name} }`).join('\n');
  const backend = (name: string, extra: string) => `backend ${name}
  option httpchk GET /health
  default-server inter 300 fall 2 rise 1
${pins}
${servers(extra)}
`;
  const cfg = `global
  stats socket ${socket} mode 600 level admin
  stats socket ipv4@127.0.0.1:${apiPort} level admin
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
frontend fe_live
  bind 127.0.0.1:${livePort}
  default_backend live
frontend fe_standby
  bind 127.0.0.1:${standbyPort}
  default_backend standby
${backend('live', '')}
${backend('standby', ' disabled')}`;
  const cfgPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfgPath, cfg);
  const logPath = path.join(dir, 'haproxy.log');
  const out = fs.openSync(logPath, 'a');
  const child = spawn(HAPROXY, ['-db', '-f', cfgPath], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  // Should the test process die before afterAll, haproxy must not outlive it.
  const pid = child.pid!;
  process.once('exit', () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const log = () => fs.readFileSync(logPath, 'utf8');
  const deadline = Date.now() + 5000;
  while (!fs.existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`haproxy did not start:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { dir, socket, apiPort, liveUrl: `http://127.0.0.1:${livePort}`, standbyUrl: `http://127.0.0.1:${standbyPort}`, child, log };
}

export async function stopHaproxy(h: Haproxy | undefined): Promise<void> {
  if (!h) return;
  if (h.child.exitCode === null && h.child.pid) {
    const exited = new Promise((r) => h.child.once('exit', r));
    process.kill(h.child.pid, 'SIGKILL');
    await exited;
  }
  fs.rmSync(h.dir, { recursive: true, force: true });
}

export interface Reply {
  status: number;
  host?: string;
  error?: string;
}

/** One GET with no pooled connection; never rejects (failures are data for the test). */
export function request(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close', ...headers }, timeout: 20_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, host: res.headers['x-host'] as string | undefined }));
      res.on('error', (e) => resolve({ status: 0, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
  });
}

/** Steady load through a frontend until stopped; counts every reply that is not a 200. */
export function load(url: string, everyMs = 20): { stop: () => Promise<{ total: number; failed: Reply[] }> } {
  let running = true;
  const failed: Reply[] = [];
  let total = 0;
  const loop = (async () => {
    while (running) {
      const r = await request(url);
      total++;
      if (r.status !== 200) failed.push(r);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { total, failed };
    },
  };
}
