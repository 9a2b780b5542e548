// One SSH connection per host, shared by the commands of every run on this worker. A handshake
// costs 0.1-0.5 s and, on hosts with a heavy login, more; a deployment sends a host 2-4 commands,
// so reusing the connection removes most of the per-host cost. Each new connection checks the host
// key (known_hosts as it is at that moment); a connection that fails or idles is dropped and the
// next command opens a fresh one.
import { createRequire } from 'node:module';
import type { Client, ConnectConfig, ParsedKey } from 'ssh2';
import { hostKeyAlgorithmsFor, verifyHostKey, type HostKeyVerdict, type KnownHosts } from './known-hosts';
import { HostKeyError, SshConnectError, type SshConnectFailure, type SshError } from './errors';
import type { SshTarget } from '../../ports/ssh';

const require = createRequire(import.meta.url);
let SshClient: typeof Client | undefined;
/**
 * ssh2's client loads at the first connection or at the warm-up after the worker polls, whichever
 * comes first; not before the worker polls (DESIGN.md, "Worker start-up").
 */
export const loadSshClient = () => (SshClient ??= (require('ssh2') as typeof import('ssh2')).Client);
const newClient = () => new (loadSshClient())();

/** sshd's MaxSessions defaults to 10 channels per connection; stay under it, queue the rest. */
export const MAX_CHANNELS_PER_CONNECTION = 8;

export interface PoolOptions {
  key: ParsedKey;
  /** Read on every new connection, so a corrected known_hosts takes effect without a restart. */
  knownHosts: () => KnownHosts;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** A connection with no command for this long is closed. */
  idleMs: number;
}

/** A channel slot on a ready connection; release it exactly once. */
export interface Lease {
  conn: Client;
  /** The connection was already established before this command: a failure to open a channel may just mean it went stale. */
  reused: boolean;
  /** Called if the connection dies while the lease is held. */
  onLost(fn: (err: SshError) => void): void;
  release(): void;
  /** Drop the connection from the pool (it misbehaved); the lease is released too. */
  discard(): void;
  /**
   * The host refused a channel while this connection carried others: it is alive, its sshd allows
   * fewer sessions than we assumed. Lowers this connection's channel limit; the lease is released.
   * Returns false when nothing else was running (then the connection itself is suspect).
   */
  refusedChannel(): boolean;
}

interface HostConnection {
  target: SshTarget;
  conn: Client;
  ready: Promise<void>;
  established: boolean;
  dead: boolean;
  active: number;
  /** Channels at once: MAX_CHANNELS_PER_CONNECTION until the host refuses one (its MaxSessions). */
  limit: number;
  waiters: (() => void)[];
  lost: Set<(err: SshError) => void>;
  idle?: NodeJS.Timeout;
}

export interface ConnectionPool {
  acquire(target: SshTarget, cancelled: () => boolean): Promise<Lease>;
  /** Connections currently open (for tests and diagnostics). */
  size(): number;
  /** Closes idle connections now and busy ones as their last command ends. */
  close(): void;
}

export function createConnectionPool(options: PoolOptions): ConnectionPool {
  const pool = new Map<string, HostConnection>();
  let closing = false;

  function kill(key: string, hc: HostConnection, err: SshError): void {
    if (hc.dead) return;
    hc.dead = true;
    if (pool.get(key) === hc) pool.delete(key);
    clearTimeout(hc.idle);
    for (const fn of [...hc.lost]) fn(err);
    hc.lost.clear();
    for (const wake of hc.waiters.splice(0)) wake();
    hc.conn.end();
  }

  function open(key: string, target: SshTarget): HostConnection {
    const conn = newClient();
    let fail: (err: SshError) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      fail = (err) => {
        kill(key, hc, err);
        reject(err);
      };
      conn.on('ready', () => {
        hc.established = true;
        resolve();
      });
      conn.on('error', (err: Error & { level?: string; code?: string }) => {
        const e =
          verdict && !verdict.ok
            ? new HostKeyError(target, verdict)
            : new SshConnectError(target, ...classify(err, hc.established, options.connectTimeoutMs, target.user));
        fail(e);
      });
      conn.on('close', () => {
        const e = new SshConnectError(
          target,
          hc.established ? 'lost' : 'protocol',
          hc.established
            ? 'connection closed by the host before the command finished'
            : 'connection closed by the host during the handshake',
        );
        fail(e);
      });
    });
    const hc: HostConnection = {
      target,
      conn,
      ready,
      established: false,
      dead: false,
      active: 0,
      limit: MAX_CHANNELS_PER_CONNECTION,
      waiters: [],
      lost: new Set(),
    };
    let verdict: HostKeyVerdict | undefined;
    // Rejections are delivered to every acquirer; this one only keeps Node from calling it unhandled.
    ready.catch(() => {});

    const knownHosts = options.knownHosts();
    const algorithms = hostKeyAlgorithmsFor(knownHosts, target.host, target.port);
    let offered = false;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: options.keepaliveCountMax,
      // The key was parsed (and decrypted) once; ssh2 would parse a Buffer again on every connection.
      authHandler: (_methods, _partial, next) => {
        if (offered) return next(false as never);
        offered = true;
        next({ type: 'publickey', username: target.user, key: options.key });
      },
      // Without hostHash ssh2 hands over the raw key blob; returning false aborts the handshake.
      hostVerifier: (blob: Buffer) => {
        verdict = verifyHostKey(knownHosts, target.host, target.port, blob);
        return verdict.ok;
      },
      // ssh2's type for serverHostKey is a closed union of names; ours are a subset of it.
      algorithms: algorithms ? { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } : undefined,
    };
    try {
      conn.connect(config);
      // ssh2 leaves Nagle's algorithm on. A command is a few small packets each way (channel open,
      // exec, EOF, exit status, close), and Nagle holding one back until the peer's delayed ACK
      // cost about 40 ms each time: 90 ms for `true` over an open connection, 3 ms without it.
      conn.setNoDelay(true);
    } catch (err) {
      fail(new SshConnectError(target, 'protocol', (err as Error).message));
    }
    return hc;
  }

  function releaseSlot(key: string, hc: HostConnection): void {
    hc.active--;
    hc.waiters.shift()?.();
    if (hc.active > 0 || hc.dead) return;
    if (closing) return kill(key, hc, new SshConnectError(hc.target, 'lost', 'SSH client closed'));
    hc.idle = setTimeout(() => {
      if (hc.active === 0) kill(key, hc, new SshConnectError(hc.target, 'lost', 'closed after idling'));
    }, options.idleMs);
    hc.idle.unref();
  }

  return {
    async acquire(target, cancelled) {
      const key = `${target.user}@${target.host}:${target.port}`;
      for (;;) {
        let hc = pool.get(key);
        if (!hc || hc.dead) {
          hc = open(key, target);
          if (!hc.dead) pool.set(key, hc);
        }
        if (hc.active >= hc.limit) {
          const current = hc;
          await new Promise<void>((wake) => current.waiters.push(wake));
          if (cancelled()) throw new SshConnectError(target, 'protocol', 'cancelled while waiting for a channel');
          continue;
        }
        const reused = hc.established;
        hc.active++;
        clearTimeout(hc.idle);
        const conn = hc;
        let held = true;
        const listeners: ((err: SshError) => void)[] = [];
        const release = () => {
          if (!held) return;
          held = false;
          for (const l of listeners) conn.lost.delete(l);
          releaseSlot(key, conn);
        };
        try {
          await conn.ready;
        } catch (err) {
          release();
          throw err;
        }
        if (conn.dead) {
          // Died between ready and now: try again on a fresh connection.
          release();
          continue;
        }
        return {
          conn: conn.conn,
          reused,
          onLost(fn) {
            listeners.push(fn);
            conn.lost.add(fn);
          },
          release,
          discard() {
            release();
            kill(key, conn, new SshConnectError(target, 'lost', 'connection discarded'));
          },
          refusedChannel() {
            const others = conn.active - (held ? 1 : 0);
            release();
            if (others < 1) return false;
            // Discarding it would kill the commands running on it; wait for one of them instead.
            conn.limit = Math.min(conn.limit, others);
            return true;
          },
        };
      }
    },
    size: () => pool.size,
    close() {
      closing = true;
      for (const [key, hc] of [...pool]) if (hc.active === 0) kill(key, hc, new SshConnectError(hc.target, 'lost', 'SSH client closed'));
    },
  };
}

export function classify(
  err: Error & { level?: string; code?: string },
  established: boolean,
  connectTimeoutMs: number,
  user: string,
): [SshConnectFailure, string] {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return ['refused', 'connection refused (nothing listens on that port)'];
  if (['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return ['unreachable', `host unreachable (${code})`];
  }
  if (err.level === 'client-authentication') {
    return ['auth', `authentication failed: the host refused our key for user "${user}"`];
  }
  if (err.message === 'Keepalive timeout') {
    return established
      ? ['lost', 'the host stopped answering keepalives during the command']
      : ['timeout', 'the host stopped answering during the handshake'];
  }
  if (err.level === 'client-timeout' || code === 'ETIMEDOUT') {
    return ['timeout', `no SSH handshake within ${connectTimeoutMs} ms (host down, frozen or filtered)`];
  }
  if (established) return ['lost', `connection lost during the command: ${err.message}`];
  return ['protocol', err.message];
}
