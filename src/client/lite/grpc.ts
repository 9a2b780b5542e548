// Unary gRPC calls over Node's own HTTP/2, for the light status client: one connection, plain text
// or TLS (own CA, client certificate, server name), an API key as a bearer token, a deadline per call.
// What it does not understand (compressed replies, odd framing) it reports as an error, and the
// caller falls back to the full client.
import http2 from 'node:http2';
import { decodeRpcStatus, type RpcStatus } from './messages';

export const GRPC = { OK: 0, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, UNAVAILABLE: 14 } as const;

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly status?: RpcStatus,
  ) {
    super(`gRPC status ${code}: ${details}`);
    this.name = 'GrpcError';
  }
}

/** The connection could not be made before its deadline; the last reason is kept for debugging. */
export class ConnectError extends Error {
  constructor(readonly last: string) {
    super('Failed to connect before the deadline');
    this.name = 'ConnectError';
  }
}

export interface ChannelOptions {
  address: string;
  /** TLS on; `true` trusts the system roots. */
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } } | true;
  apiKey?: string;
  /** Sent as temporal-namespace, as the SDK does, for servers that route by it. */
  namespace: string;
  connectTimeoutMs: number;
}

export interface Channel {
  call(service: string, method: string, request: Buffer, timeoutMs: number): Promise<Buffer>;
  close(): void;
}

/** Connects, retrying refused or failed attempts until the deadline, as grpc-js does when it waits for ready. */
export async function openChannel(o: ChannelOptions): Promise<Channel> {
  const deadline = Date.now() + o.connectTimeoutMs;
  let backoff = 50;
  let last = 'timed out';
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new ConnectError(last);
    try {
      const session = await connectOnce(o, left);
      return channelOver(session, o);
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, Math.min(backoff, Math.max(0, deadline - Date.now()))));
    backoff = Math.min(backoff * 2, 1000);
  }
}

function connectOnce(o: ChannelOptions, timeoutMs: number): Promise<http2.ClientHttp2Session> {
  const tls = o.tls === true ? {} : o.tls;
  const authority = `${tls ? 'https' : 'http'}://${o.address}`;
  return new Promise((resolve, reject) => {
    const session = http2.connect(authority, {
      ...(tls
        ? {
            ALPNProtocols: ['h2'],
            ...(tls.serverRootCACertificate ? { ca: tls.serverRootCACertificate } : {}),
            ...(tls.clientCertPair ? { cert: tls.clientCertPair.crt, key: tls.clientCertPair.key } : {}),
            ...(tls.serverNameOverride ? { servername: tls.serverNameOverride } : {}),
          }
        : {}),
    });
    const timer = setTimeout(() => fail(new Error('timed out')), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    session.once('error', fail);
    session.once('connect', () => {
      clearTimeout(timer);
      session.off('error', fail);
      // Later session errors surface through the streams that are open at the time.
      session.on('error', () => {});
      resolve(session);
    });
  });
}

function channelOver(session: http2.ClientHttp2Session, o: ChannelOptions): Channel {
  return {
    call: (service, method, request, timeoutMs) => unary(session, o, `/${service}/${method}`, request, timeoutMs),
    close: () => session.close(),
  };
}

function unary(session: http2.ClientHttp2Session, o: ChannelOptions, path: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const frame = Buffer.alloc(5 + request.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(request.length, 1);
    request.copy(frame, 5);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
      'temporal-namespace': o.namespace,
      ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}),
    });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let settled = false;
    const done = (err: Error | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(err);
      } else resolve(body as Buffer);
    };
    const deadlineAt = Date.now() + timeoutMs;
    const deadlineExceeded = () => new GrpcError(GRPC.DEADLINE_EXCEEDED, 'Deadline exceeded');
    const timer = setTimeout(() => done(deadlineExceeded()), timeoutMs);
    // The server resets the stream at the same deadline, and its reset may beat our timer: past the
    // deadline, a stream that ends without a status has missed it, as the timer would have said.
    const late = () => Date.now() >= deadlineAt;
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => done(late() ? deadlineExceeded() : new GrpcError(GRPC.UNAVAILABLE, err.message)));
    stream.on('close', () => {
      if (settled) return;
      // Trailers-only replies (errors, mostly) carry the status in the headers.
      const all = { ...headers, ...trailers };
      const httpStatus = Number(headers[':status'] ?? 0);
      if (all['grpc-status'] === undefined) {
        if (late()) return done(deadlineExceeded());
        return done(new GrpcError(GRPC.UNAVAILABLE, `no gRPC status in the reply (HTTP ${httpStatus || 'none'})`));
      }
      const code = Number(all['grpc-status']);
      if (code !== GRPC.OK) return done(errorFrom(code, all));
      try {
        done(undefined, singleMessage(Buffer.concat(chunks)));
      } catch (err) {
        done(err as Error);
      }
    });
    stream.end(frame);
  });
}

function errorFrom(code: number, h: http2.IncomingHttpHeaders): GrpcError {
  const raw = header(h, 'grpc-message');
  let details = raw;
  try {
    details = decodeURIComponent(raw);
  } catch {
    // Not percent-encoded after all: keep it as sent.
  }
  const bin = header(h, 'grpc-status-details-bin');
  let status: RpcStatus | undefined;
  if (bin) {
    try {
      status = decodeRpcStatus(Buffer.from(bin, 'base64'));
    } catch {
      // Undecodable details: the code and message still say what happened.
    }
  }
  return new GrpcError(code, details, status);
}

const header = (h: http2.IncomingHttpHeaders, name: string): string => {
  const v = h[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

/** A unary reply is exactly one length-prefixed, uncompressed message. */
function singleMessage(body: Buffer): Buffer {
  if (body.length < 5) throw new GrpcError(GRPC.UNAVAILABLE, 'reply without a message');
  if (body.readUInt8(0) !== 0) throw new GrpcError(GRPC.UNAVAILABLE, 'compressed reply (not asked for)');
  const len = body.readUInt32BE(1);
  if (body.length !== 5 + len) throw new GrpcError(GRPC.UNAVAILABLE, `reply of ${body.length} bytes, framed as ${5 + len}`);
  return body.subarray(5);
}
