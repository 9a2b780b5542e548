// SSH command execution over ssh2, with the host key always checked against known_hosts.
// One connection per exec: simple, no shared state to go stale, and never near sshd's
// MaxSessions (10 channels per connection). The cost is a handshake per command (~100-300 ms
// here). Many parallel execs to ONE host can hit sshd's MaxStartups (default 10:30:100: beyond
// 10 unauthenticated connections sshd drops some), which surfaces as SshConnectError.
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { hostKeyAlgorithmsFor, verifyHostKey, type HostKeyVerdict, type KnownHosts } from './known-hosts';
import { HeadTailBuffer, OutputTail, safeCall, throttle } from './ssh-output';
import {
  HostKeyError,
  SshCancelledError,
  SshConnectError,
  SshTimeoutError,
  type SshConnectFailure,
  type SshError,
  type SshTarget,
} from './ssh-errors';
import { wrapForKill } from './ssh-wrapper';

export * from './ssh-errors';

const { Client, utils } = ssh2;

/**
 * Options of the client. Commands run under `/bin/sh` (via a small wrapper, see ssh-wrapper)
 * with stdin from /dev/null, as the target's user, without a pty.
 */
export interface SshClientOptions {
  privateKey: Buffer | string;
  passphrase?: string;
  knownHosts: KnownHosts;
  /** TCP connect + SSH handshake + authentication. Default 15 s. */
  connectTimeoutMs?: number;
  /** Keepalive probes detect a host that froze after connecting. Default 5 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is declared lost. Default 3. */
  keepaliveCountMax?: number;
  /** After TERM, how long processes get before KILL, and how long we wait for the host to confirm. Default 2 s. */
  killGraceMs?: number;
}

export interface ExecOptions {
  /** Whole exec, connect included. On expiry the remote command is killed. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called at most every `onOutputIntervalMs` with the last ~`onOutputTailChars` characters of stdout+stderr. */
  onOutput?: (tail: string) => void;
  onOutputIntervalMs?: number;
  onOutputTailChars?: number;
  /** Per stream: keep at most this many bytes (half from the start, half from the end). Default 64 KiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  /** Exit status; a command killed by signal N reports 128+N (it runs under a wrapper shell). Null if the host sent none. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
}

export interface SshClient {
  exec(target: SshTarget, command: string, opts: ExecOptions): Promise<ExecResult>;
  /** Kills every running command (SshCancelledError) and refuses new ones. */
  close(): void;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

export function createSshClient(options: SshClientOptions): SshClient {
  // Fail at startup, not on the first deployment; ssh2's message never quotes the key.
  const parsed = utils.parseKey(options.privateKey, options.passphrase);
  if (parsed instanceof Error) throw new Error(`SSH private key is unusable: ${parsed.message}`);
  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
  const keepaliveIntervalMs = options.keepaliveIntervalMs ?? 5_000;
  const keepaliveCountMax = options.keepaliveCountMax ?? 3;
  const killGraceMs = options.killGraceMs ?? 2_000;
  const running = new Set<(reason: string) => void>();
  let closed = false;

  async function exec(target: SshTarget, command: string, opts: ExecOptions): Promise<ExecResult> {
    checkTarget(target);
    if (closed) throw new SshCancelledError(target, true, 'SSH client is closed');
    if (opts.signal?.aborted) throw new SshCancelledError(target, true, abortReason(opts.signal));
    const started = Date.now();
    const maxBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const stdout = new HeadTailBuffer(maxBytes);
    const stderr = new HeadTailBuffer(maxBytes);
    const tail = new OutputTail(opts.onOutputTailChars ?? 2000);
    const emitOutput = throttle(() => safeCall(opts.onOutput, tail.value), opts.onOutputIntervalMs ?? 1000);

    return new Promise<ExecResult>((resolve, reject) => {
      const conn = new Client();
      let verdict: HostKeyVerdict | undefined;
      let channel: ClientChannel | undefined;
      let exit: { code: number | null; signal: string | null } | undefined;
      let phase: 'connecting' | 'running' | 'stopping' | 'done' = 'connecting';
      let onChannelClose: (() => void) | undefined;
      const timers: NodeJS.Timeout[] = [];

      const finish = (outcome: SshError | ExecResult) => {
        if (phase === 'done') return;
        phase = 'done';
        timers.forEach(clearTimeout);
        emitOutput.cancel();
        opts.signal?.removeEventListener('abort', onAbort);
        running.delete(stopWith);
        conn.end();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };

      // Timeout, abort and close() all stop the command the same way: TERM to its process
      // group and EOF on its stdin (see ssh-wrapper), then wait for the channel to close.
      const stop = (makeError: (remoteStopped: boolean) => SshError) => {
        if (phase === 'done' || phase === 'stopping') return;
        const execRequested = phase === 'running';
        phase = 'stopping';
        // Without a channel the command never started, or its start is in flight: hanging up
        // closes its stdin, which the wrapper treats as a kill, but nobody confirms it.
        if (!channel) return finish(makeError(!execRequested));
        onChannelClose = () => finish(makeError(true));
        try {
          channel.signal('TERM');
          channel.end();
        } catch {
          // The connection may already be gone; the wait below then reports "not confirmed".
        }
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
        setTimeout(
          () => stop((confirmed) => new SshTimeoutError(target, opts.timeoutMs, confirmed, tail.value)),
          opts.timeoutMs,
        ),
      );

      conn.on('error', (err: Error & { level?: string; code?: string }) => {
        if (verdict && !verdict.ok) return finish(new HostKeyError(target, verdict));
        if (phase === 'stopping') return; // the stop path reports
        finish(new SshConnectError(target, ...classify(err, phase === 'running', connectTimeoutMs, target.user)));
      });
      conn.on('close', () => {
        if (phase === 'stopping') return;
        const failure: SshConnectFailure = phase === 'running' ? 'lost' : 'protocol';
        finish(new SshConnectError(target, failure, 'connection closed by the host before the command finished'));
      });
      conn.on('ready', () => {
        if (phase !== 'connecting') return;
        phase = 'running';
        conn.exec(wrapForKill(command, killGraceMs), (err, ch) => {
          if (err) {
            finish(new SshConnectError(target, 'protocol', `could not start the command: ${err.message}`));
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
      });

      const algorithms = hostKeyAlgorithmsFor(options.knownHosts, target.host, target.port);
      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey: options.privateKey,
        passphrase: options.passphrase,
        readyTimeout: connectTimeoutMs,
        keepaliveInterval: keepaliveIntervalMs,
        keepaliveCountMax,
        // Without hostHash ssh2 hands over the raw key blob; returning false aborts the handshake.
        hostVerifier: (key: Buffer) => {
          verdict = verifyHostKey(options.knownHosts, target.host, target.port, key);
          return verdict.ok;
        },
        // ssh2's type for serverHostKey is a closed union of names; ours are a subset of it.
        algorithms: algorithms ? { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } : undefined,
      };
      try {
        conn.connect(config);
      } catch (err) {
        finish(new SshConnectError(target, 'protocol', (err as Error).message));
      }
    });
  }

  return {
    exec,
    close() {
      closed = true;
      for (const stopOne of [...running]) stopOne('SSH client closed');
    },
  };
}

function classify(
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
