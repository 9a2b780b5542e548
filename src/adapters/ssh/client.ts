// SSH command execution over ssh2, with the host key always checked against known_hosts.
// Commands share one pooled connection per host (see pool.ts): the handshake is paid once per
// host, not once per command. Every command runs on its own channel under a small wrapper that
// makes it killable (see wrapper.ts).
import type { ClientChannel } from 'ssh2';
import type { KnownHosts } from './known-hosts';
import { HeadTailBuffer, OutputTail, safeCall, throttle } from './output';
import type { ExecOptions, ExecResult, SshPort, SshTarget } from '../../ports/ssh';
import { SshCancelledError, SshConnectError, SshTimeoutError, type SshError } from './errors';
import { createConnectionPool, type Lease } from './pool';
import { parseLoginKey } from './signing-key';
import { wrapForKill } from './wrapper';

export * from './errors';

/**
 * Options of the client. Commands run under `/bin/sh` (via a small wrapper, see wrapper.ts)
 * with stdin from /dev/null, as the target's user, without a pty.
 */
export interface SshClientOptions {
  privateKey: Buffer | string;
  passphrase?: string;
  /** A function is asked again for every new connection (a known_hosts file re-read when it changes). */
  knownHosts: KnownHosts | (() => KnownHosts);
  /** TCP connect + SSH handshake + authentication. Default 15 s. */
  connectTimeoutMs?: number;
  /** Keepalive probes detect a host that froze after connecting. Default 5 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is declared lost. Default 3. */
  keepaliveCountMax?: number;
  /** After TERM, how long processes get before KILL, and how long we wait for the host to confirm. Default 2 s. */
  killGraceMs?: number;
  /** An unused connection is closed after this long. Default 30 s. */
  idleMs?: number;
}

/** The port's options, and this adapter's own knobs for output. */
export interface SshExecOptions extends ExecOptions {
  /** How often `onOutput` is called at most. */
  onOutputIntervalMs?: number;
  /** How many of the last characters of stdout+stderr `onOutput` gets. */
  onOutputTailChars?: number;
  /** Per stream: keep at most this many bytes (half from the start, half from the end). Default 64 KiB. */
  maxOutputBytes?: number;
}

/** The port's result, always complete: a command killed by signal N exits 128+N (it runs under a wrapper shell). */
export interface SshExecResult extends ExecResult {
  signal: string | null;
  truncated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
}

export interface SshClient extends SshPort {
  exec(target: SshTarget, command: string, opts: SshExecOptions): Promise<SshExecResult>;
  /** Kills every running command (SshCancelledError), refuses new ones, closes the connections. */
  close(): void;
  /** Open connections (one per host in use). */
  connections(): number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/** A command waits for a free channel this many times when the host refuses one, then fails. */
const MAX_CHANNEL_REFUSALS = 8;

export function createSshClient(options: SshClientOptions): SshClient {
  // Fail at startup, not on the first deployment. Parsed (and decrypted) once here, not on every connection.
  const key = parseLoginKey(options.privateKey, options.passphrase);
  const killGraceMs = options.killGraceMs ?? 2_000;
  const knownHosts = options.knownHosts;
  const pool = createConnectionPool({
    key,
    knownHosts: typeof knownHosts === 'function' ? knownHosts : () => knownHosts,
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    keepaliveIntervalMs: options.keepaliveIntervalMs ?? 5_000,
    keepaliveCountMax: options.keepaliveCountMax ?? 3,
    idleMs: options.idleMs ?? 30_000,
  });
  const running = new Set<(reason: string) => void>();
  let closed = false;

  async function exec(target: SshTarget, command: string, opts: SshExecOptions): Promise<SshExecResult> {
    checkTarget(target);
    if (closed) throw new SshCancelledError(target, true, 'SSH client is closed');
    if (opts.signal?.aborted) throw new SshCancelledError(target, true, abortReason(opts.signal));
    const started = Date.now();
    const maxBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const stdout = new HeadTailBuffer(maxBytes);
    const stderr = new HeadTailBuffer(maxBytes);
    const tail = new OutputTail(opts.onOutputTailChars ?? 2000);
    const emitOutput = throttle(() => safeCall(opts.onOutput, tail.value), opts.onOutputIntervalMs ?? 1000);

    return new Promise<SshExecResult>((resolve, reject) => {
      let lease: Lease | undefined;
      let channel: ClientChannel | undefined;
      let exit: { code: number | null; signal: string | null } | undefined;
      let phase: 'connecting' | 'running' | 'stopping' | 'done' = 'connecting';
      let onChannelClose: (() => void) | undefined;
      let retriedStale = false;
      let refusals = 0;
      const timers: NodeJS.Timeout[] = [];

      const finish = (outcome: SshError | SshExecResult) => {
        if (phase === 'done') return;
        phase = 'done';
        timers.forEach(clearTimeout);
        emitOutput.cancel();
        opts.signal?.removeEventListener('abort', onAbort);
        running.delete(stopWith);
        lease?.release();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };

      // Timeout, abort and close() all stop the command the same way: TERM to its process
      // group and EOF on its stdin (see wrapper.ts), then wait for the channel to close.
      const stop = (makeError: (remoteStopped: boolean) => SshError) => {
        if (phase === 'done' || phase === 'stopping') return;
        const execRequested = phase === 'running';
        phase = 'stopping';
        // No channel yet: the command never started, or its start is in flight (that channel is
        // stopped as soon as it opens, below), and nobody confirms it.
        if (!channel) return finish(makeError(!execRequested));
        onChannelClose = () => finish(makeError(true));
        stopChannel(channel);
        timers.push(setTimeout(() => finish(makeError(false)), killGraceMs + 1_000));
      };
      function stopWith(reason: string) {
        stop((confirmed) => new SshCancelledError(target, confirmed, reason));
      }
      function onAbort() {
        stopWith(abortReason(opts.signal));
      }
      running.add(stopWith);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      timers.push(
        setTimeout(() => stop((confirmed) => new SshTimeoutError(target, opts.timeoutMs, confirmed, tail.value)), opts.timeoutMs),
      );

      const start = (l: Lease) => {
        if (phase !== 'connecting') return l.release();
        lease = l;
        phase = 'running';
        l.onLost((err) => {
          if (phase === 'running') finish(err.name === 'HostKeyError' ? err : new SshConnectError(target, 'lost', err.message));
          else if (phase === 'stopping') onChannelClose?.();
        });
        l.conn.exec(wrapForKill(command, killGraceMs), (err, ch) => {
          if (err) {
            // Refused while other commands run on it: the host's MaxSessions is below our limit. The
            // pool lowers it for this connection and the command waits for a free channel.
            if (phase === 'running' && refusals < MAX_CHANNEL_REFUSALS && l.refusedChannel()) {
              refusals++;
              lease = undefined;
              phase = 'connecting';
              return connect();
            }
            // A connection that sat in the pool may have gone stale unnoticed: one more try on a fresh one.
            if (l.reused && !retriedStale && phase === 'running') {
              retriedStale = true;
              l.discard();
              lease = undefined;
              phase = 'connecting';
              return connect();
            }
            if (phase === 'running') finish(new SshConnectError(target, 'protocol', `could not start the command: ${err.message}`));
            return;
          }
          if (phase !== 'running') {
            // Stopped while the channel was opening: stop what it is starting, and let it drain.
            stopChannel(ch);
            ch.resume();
            ch.stderr.resume();
            return;
          }
          channel = ch;
          // Both streams must be read, or ssh2 never emits 'close'.
          const onData = (buf: HeadTailBuffer) => (chunk: Buffer) => {
            buf.push(chunk);
            tail.push(chunk);
            if (opts.onOutput) emitOutput();
          };
          ch.on('error', (e: Error) => {
            if (phase === 'running') finish(new SshConnectError(target, 'lost', `channel failed during the command: ${e.message}`));
          });
          ch.on('data', onData(stdout));
          ch.stderr.on('data', onData(stderr));
          ch.on('exit', (code: number | null, signal?: string) => {
            exit = { code: code ?? null, signal: signal ?? null };
          });
          ch.on('close', () => {
            if (phase === 'stopping') return onChannelClose?.();
            if (opts.onOutput && tail.value) safeCall(opts.onOutput, tail.value);
            finish({
              code: exit?.code ?? null,
              signal: exit?.signal ?? null,
              stdout: stdout.text(),
              stderr: stderr.text(),
              truncated: stdout.truncated || stderr.truncated,
              stdoutBytes: stdout.total,
              stderrBytes: stderr.total,
              durationMs: Date.now() - started,
            });
          });
        });
      };
      const connect = (): void => {
        pool.acquire(target, () => phase !== 'connecting').then(start, (err: SshError) => finish(err));
      };
      connect();
    });
  }

  return {
    exec,
    close() {
      closed = true;
      for (const stopOne of [...running]) stopOne('SSH client closed');
      pool.close();
    },
    connections: () => pool.size(),
  };
}

function stopChannel(ch: ClientChannel): void {
  try {
    ch.signal('TERM');
    ch.end();
  } catch {
    // The connection may already be gone; the caller's wait then reports "not confirmed".
  }
}

function checkTarget(t: SshTarget): void {
  if (!t || typeof t.host !== 'string' || t.host === '') throw new Error('SSH target needs a host');
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`SSH target ${t.host} has a bad port ${t.port}`);
  if (typeof t.user !== 'string' || t.user === '') throw new Error(`SSH target ${t.host} needs a user`);
}

function abortReason(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  if (r instanceof Error) return r.message || r.name;
  return r === undefined ? 'aborted' : String(r);
}
