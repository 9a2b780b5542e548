// The light status client's gRPC over node:http2 against a local HTTP/2 server with real TLS: it
// sends what the full client sends (API key, namespace, deadline), trusts only the CA it is given,
// presents its client certificate, and reads replies, gRPC errors and missed deadlines correctly.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { google } from '@temporalio/proto';
import { ConnectError, GrpcError, openChannel, type ChannelOptions } from '../../../src/client/lite/grpc';

let dir: string;
const f = (name: string) => path.join(dir, name);
const read = (name: string) => fs.readFileSync(f(name));

/** A self-signed certificate (its own CA) for CN, with a DNS name for the server's. */
function makeCert(name: string, dns?: string): void {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push('-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-subj', `/CN=${name}`, '-days', '1');
  if (dns) args.push('-addext', `subjectAltName=DNS:${dns}`);
  execFileSync('openssl', args, { stdio: 'ignore' });
}

interface Seen {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  clientCertCN?: string;
}
let server: http2.Http2SecureServer;
let port: number;
const seen: Seen[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-lite-grpc-'));
  makeCert('server', 'frontend.test');
  makeCert('client');
  makeCert('stranger', 'frontend.test');
  server = http2.createSecureServer({ key: read('server.key'), cert: read('server.crt'), ca: read('client.crt'), requestCert: true });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const socket = stream.session?.socket as unknown as { getPeerCertificate(): { subject?: { CN?: string } } };
      seen.push({ headers, body: Buffer.concat(chunks), clientCertCN: socket.getPeerCertificate().subject?.CN });
      const method = String(headers[':path']).split('/').pop();
      if (method === 'Echo') {
        // Reply with the request's message, reversed, as a framed message and an OK status in trailers.
        const msg = Buffer.from(Buffer.concat(chunks).subarray(5)).reverse();
        const frame = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), msg]);
        frame.writeUInt32BE(msg.length, 1);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      } else if (method === 'Missing') {
        // Trailers-only, as servers answer errors: status, percent-encoded message and binary details.
        const details = google.rpc.Status.encode({
          code: 5,
          message: 'not here',
          details: [{ type_url: 'type.googleapis.com/x.NotFoundFailure', value: Buffer.from([1]) }],
        }).finish();
        stream.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc',
            'grpc-status': '5',
            'grpc-message': encodeURIComponent('workflow not found for ID: bluegreen-x (100%)'),
            'grpc-status-details-bin': Buffer.from(details).toString('base64'),
          },
          { endStream: true },
        );
      } else if (method === 'Reset') {
        // As a Go server does at the caller's deadline (grpc-timeout): reset the stream, no status.
        const ms = Number(/^(\d+)m$/.exec(String(headers['grpc-timeout']))?.[1]);
        setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), ms > 1000 ? 0 : ms);
      }
      // Anything else: never answered (a missed deadline).
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const options = (over: Partial<ChannelOptions> = {}): ChannelOptions => ({
  address: `127.0.0.1:${port}`,
  tls: {
    serverNameOverride: 'frontend.test',
    serverRootCACertificate: read('server.crt'),
    clientCertPair: { crt: read('client.crt'), key: read('client.key') },
  },
  apiKey: 'key-123',
  namespace: 'team-a',
  connectTimeoutMs: 2000,
  ...over,
});

describe('unary gRPC over node:http2', () => {
  it('over mTLS with a server name override: sends the API key, namespace and deadline, reads the framed reply', async () => {
    const channel = await openChannel(options());
    try {
      const reply = await channel.call('svc.v1.Service', 'Echo', Buffer.from([1, 2, 3]), 10_000);
      expect([...reply]).toEqual([3, 2, 1]);
    } finally {
      channel.close();
    }
    const last = seen.at(-1) as Seen;
    expect(last.clientCertCN).toBe('client');
    expect(last.headers).toMatchObject({
      ':path': '/svc.v1.Service/Echo',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: 'Bearer key-123',
      'temporal-namespace': 'team-a',
      'grpc-timeout': '10000m',
    });
    expect([...last.body]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
  });

  it('a gRPC error: its code, decoded message and status details', async () => {
    const channel = await openChannel(options({ apiKey: undefined }));
    try {
      const err = await channel.call('svc.v1.Service', 'Missing', Buffer.alloc(0), 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrpcError);
      expect(err).toMatchObject({ code: 5, details: 'workflow not found for ID: bluegreen-x (100%)' });
      expect((err as GrpcError).status?.details[0]?.typeUrl).toBe('type.googleapis.com/x.NotFoundFailure');
    } finally {
      channel.close();
    }
    expect(seen.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('no answer within the deadline: DEADLINE_EXCEEDED, on time', async () => {
    const channel = await openChannel(options());
    try {
      const err = await channel.call('svc.v1.Service', 'Silent', Buffer.alloc(0), 300).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 4 });
    } finally {
      channel.close();
    }
  });

  it('a stream reset: DEADLINE_EXCEEDED at the deadline (the server keeps it too), UNAVAILABLE before it', async () => {
    const channel = await openChannel(options());
    try {
      const atDeadline = await channel.call('svc.v1.Service', 'Reset', Buffer.alloc(0), 200).catch((e: unknown) => e);
      expect(atDeadline).toMatchObject({ code: 4 });
      const early = await channel.call('svc.v1.Service', 'Reset', Buffer.alloc(0), 5000).catch((e: unknown) => e);
      expect(early).toMatchObject({ code: 14 });
    } finally {
      channel.close();
    }
  });

  it('a server whose certificate the given CA did not sign: no connection, after the connect deadline', async () => {
    const err = await openChannel(
      options({ connectTimeoutMs: 1500, tls: { serverNameOverride: 'frontend.test', serverRootCACertificate: read('stranger.crt') } }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toBe('Failed to connect before the deadline');
    expect((err as ConnectError).last).toMatch(/certificate/i);
  });

  it('the wrong server name and plain text to a TLS port fail too', async () => {
    const wrongName = await openChannel(
      options({ connectTimeoutMs: 1500, tls: { serverNameOverride: 'other.test', serverRootCACertificate: read('server.crt') } }),
    ).catch((e: unknown) => e);
    expect(wrongName).toBeInstanceOf(ConnectError);
    expect((wrongName as ConnectError).last).toMatch(/other\.test|altnames/i);
    const plain = await openChannel(options({ connectTimeoutMs: 300, tls: undefined }))
      .then(async (ch) => {
        try {
          return await ch.call('svc.v1.Service', 'Echo', Buffer.from([1]), 300);
        } finally {
          ch.close();
        }
      })
      .catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(Error);
  });

  it('a refused port: retried until the connect deadline, then ConnectError', async () => {
    const t0 = Date.now();
    const err = await openChannel(options({ address: '127.0.0.1:1', tls: undefined, connectTimeoutMs: 400 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).last).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
  });
});
