// Running one command on a host from inside an activity: heartbeats carry the output's tail,
// cancellation stops the remote command, and SSH errors become Temporal failures with the right
// retry behaviour (a changed host key is never retried; a refused connection is).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { SshDep } from './deps';
import type { HostRef } from './types';

const TAIL_CHARS = 2000;

export async function runOnHost(
  ssh: SshDep,
  host: HostRef,
  command: string,
  opts: { timeoutMs: number; what: string },
): Promise<string> {
  const ctx = Context.current();
  const tail = (s: string) => (s.length > TAIL_CHARS ? s.slice(-TAIL_CHARS) : s);
  let lastTail = '';
  // A quiet command still heartbeats, so a dead worker is noticed within the heartbeat timeout
  // and a live one is not mistaken for dead.
  const beat = setInterval(() => ctx.heartbeat({ host: host.name, output: lastTail }), 2000);
  let result;
  try {
    result = await ssh.exec(host.ssh, command, {
      timeoutMs: opts.timeoutMs,
      signal: ctx.cancellationSignal,
      onOutput: (t) => {
        lastTail = tail(t);
        ctx.heartbeat({ host: host.name, output: lastTail });
      },
    });
  } catch (err) {
    // Cancelled by the workflow: report the cancellation itself, so the workflow sees a cancelled
    // activity (and a cancelled run stays cancelled) rather than an SSH failure.
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? err;
    throw toFailure(host, opts.what, err);
  } finally {
    clearInterval(beat);
  }
  if (result.code !== 0) {
    const out = tail(`${result.stdout}\n${result.stderr}`.trim());
    throw ApplicationFailure.nonRetryable(
      `${host.name}: "${opts.what}" exited with ${result.code === null ? `signal ${result.signal ?? '?'}` : `code ${result.code}`}${out ? `; output: ${out}` : ''}`,
      'CommandFailed',
    );
  }
  return result.stdout;
}

function toFailure(host: HostRef, what: string, err: unknown): Error {
  if (!(err instanceof Error)) return ApplicationFailure.retryable(`${host.name}: ${what}: ${String(err)}`, 'SshError');
  const message = `${host.name}: ${what}: ${err.message}`;
  switch (err.name) {
    case 'HostKeyError':
      return ApplicationFailure.nonRetryable(message, 'HostKeyError');
    case 'SshCancelledError':
      return err;
    default:
      // Connection refused, timeouts and dropped connections may heal; the retry policy bounds them.
      return ApplicationFailure.retryable(message, err.name || 'SshError');
  }
}
