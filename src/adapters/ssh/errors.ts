// Typed SSH failures. The activity layer maps them to retryable or non-retryable Temporal
// failures, so each carries what it needs to decide, and messages name the target but never
// any secret (the key and passphrase are not reachable from here).
import type { SshTarget } from '../../ports/ssh';
import type { HostKeyVerdict } from './known-hosts';

export function targetName(t: SshTarget): string {
  return `${t.user}@${t.host}:${t.port}`;
}

export abstract class SshError extends Error {
  abstract readonly code: string;
  constructor(
    readonly target: SshTarget,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export type SshConnectFailure =
  | 'refused' // nothing listens on the port
  | 'timeout' // no SSH handshake within the connect timeout (host down, frozen or filtered)
  | 'auth' // the server refused our key
  | 'unreachable' // DNS or routing failure
  | 'lost' // the connection died after it was established (keepalive timeout, reset)
  | 'protocol'; // anything else the SSH layer reported

export class SshConnectError extends SshError {
  readonly code = 'SSH_CONNECT';
  constructor(
    target: SshTarget,
    readonly failure: SshConnectFailure,
    detail: string,
  ) {
    super(target, `SSH to ${targetName(target)} failed (${failure}): ${detail}`);
  }
}

export class HostKeyError extends SshError {
  readonly code = 'SSH_HOST_KEY';
  readonly reason: 'unknown-host' | 'changed-key' | 'revoked';
  readonly seen: string;
  readonly expected: string[];
  constructor(target: SshTarget, verdict: Exclude<HostKeyVerdict, { ok: true }>) {
    const where = `${target.host}:${target.port}`;
    const expected = verdict.expected.length > 0 ? verdict.expected.join(', ') : 'none';
    const what = {
      'unknown-host': `host key of ${where} is not in known_hosts (looked up as "${target.port === 22 ? target.host : `[${target.host}]:${target.port}`}")`,
      'changed-key': `host key of ${where} does not match known_hosts: POSSIBLE MAN-IN-THE-MIDDLE or a reinstalled host`,
      revoked: `host key of ${where} is marked @revoked in known_hosts`,
    }[verdict.reason];
    super(target, `${what}; seen ${verdict.seen}, expected ${expected}; refusing to connect`);
    this.reason = verdict.reason;
    this.seen = verdict.seen;
    this.expected = verdict.expected;
  }
}

export class SshTimeoutError extends SshError {
  readonly code = 'SSH_TIMEOUT';
  constructor(
    target: SshTarget,
    readonly timeoutMs: number,
    /** Whether the server confirmed the command ended before we hung up. */
    readonly remoteStopped: boolean,
    readonly outputTail: string,
  ) {
    super(
      target,
      `command on ${targetName(target)} timed out after ${timeoutMs} ms and was killed` +
        (remoteStopped ? '' : ' (the host did not confirm it stopped)'),
    );
  }
}

export class SshCancelledError extends SshError {
  readonly code = 'SSH_CANCELLED';
  constructor(
    target: SshTarget,
    readonly remoteStopped: boolean,
    reason: string,
  ) {
    super(
      target,
      `command on ${targetName(target)} was cancelled (${reason}) and killed` +
        (remoteStopped ? '' : ' (the host did not confirm it stopped)'),
    );
  }
}
