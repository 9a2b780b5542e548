// A real webhook receiver for tests: a node http server on 127.0.0.1 that records every POST, and
// can answer 500 or hold each request for a while (a slow receiver). Its URL carries a secret path,
// as a Slack webhook's does, so tests can look for it where it must not be.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  path: string;
  body: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  /** The part of the URL that is the secret. */
  secret: string;
  received: Received[];
  /** Requests that arrived, whatever was answered (a slow or failing receiver counts them too). */
  hits: number;
  mode: 'ok' | 'fail' | 'slow';
  close(): Promise<void>;
}

export async function startReceiver(mode: Receiver['mode'] = 'ok', opts: { slowMs?: number; secret?: string } = {}): Promise<Receiver> {
  const secret = opts.secret ?? `T0${Math.random().toString(36).slice(2, 10).toUpperCase()}/B0/${Math.random().toString(36).slice(2)}`;
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const r: Receiver = { url: '', secret, received: [], hits: 0, mode, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.hits++;
      if (r.mode === 'fail') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`boom at ${req.url}`);
        return;
      }
      if (r.mode === 'slow') {
        const t = setTimeout(() => res.writeHead(200).end('ok'), opts.slowMs ?? 10_000);
        timers.add(t);
        return;
      }
      r.received.push({
        at: Date.now(),
        path: req.url ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(200).end('ok');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  r.url = `http://127.0.0.1:${port}/services/${secret}`;
  r.close = async () => {
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return r;
}

/** A URL on a port nobody listens on (bound, then released): connection refused. */
export async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/services/T0DEAD/B0/deadsecret`;
}
