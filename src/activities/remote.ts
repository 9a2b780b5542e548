// What one host is asked to do, free of Temporal: read its release, install one and read back
// what runs, wait until it is healthy. Failures are HostFailure with the host's name and whether a
// retry could help (a refused connection may heal; a changed host key or a failing command will
// not), so the fleet fan-out (fleet.ts) retries per host and reports per host.
import { randomBytes } from 'node:crypto';
import type { HttpPort } from '../ports/http';
import type { ExecResult, SshPort } from '../ports/ssh';
import { HealthCheckFailed, waitUntilHealthy } from './health';
import { execJob, jobId, jobLimitSeconds, renderJob } from './host-job';
import { assertSafeRelease, describeValue, renderCommand } from './shell';
import { sleep } from '../sleep';
import type { HostRef } from './types';
import { RELEASE_PATTERN } from '../plan/names';

/** Output quoted in an error: the end of it, where scripts say what went wrong. */
export const TAIL_CHARS = 2000;

export class HostFailure extends Error {
  constructor(
    readonly host: string,
    message: string,
    /** The failure's kind, e.g. CommandFailed, HostKeyError, SshConnectError, HealthCheckFailed. */
    readonly type: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'HostFailure';
  }
}

export interface RunOptions {
  timeoutMs: number;
  what: string;
  signal?: AbortSignal;
}

const tail = (s: string) => (s.length > TAIL_CHARS ? s.slice(-TAIL_CHARS) : s);

/** Runs a command; its stdout on exit 0, else a HostFailure that quotes the output's tail. */
export async function runOnHost(ssh: SshPort, host: HostRef, command: string, opts: RunOptions): Promise<string> {
  return expectSuccess(host, opts.what, await execOnHost(ssh, host, command, opts));
}

/**
 * Runs a long command as a detached job on the host (host-job.ts): it survives the SSH session and
 * the worker, never overlaps another job on the host, and a call with the same `jobKey` collects
 * its outcome instead of running it again. Stdout is the tail of the job's output on exit 0; a
 * cancellation stops the wait, not the job.
 */
export async function runJobOnHost(ssh: SshPort, host: HostRef, command: string, jobKey: string[], opts: RunOptions): Promise<string> {
  const id = hostJobId(host, jobKey, command);
  return expectSuccess(host, opts.what, await execOnHost(ssh, host, command, opts, (c, o) => execJob(ssh, host, { id, command: c }, o)));
}

/** One job per host, step and command; `jobKey` says which run and step (the same on a retry). */
export function hostJobId(host: HostRef, jobKey: string[], command: string): string {
  return jobId(...jobKey, host.name, host.ssh.host, String(host.ssh.port), host.ssh.user, command);
}

type Exec = (command: string, opts: { timeoutMs: number; signal?: AbortSignal }) => Promise<ExecResult>;

/** Runs a command whatever its exit code; only SSH trouble throws (as a HostFailure). */
async function execOnHost(
  ssh: SshPort,
  host: HostRef,
  command: string,
  opts: RunOptions,
  exec: Exec = (c, o) => ssh.exec(host.ssh, c, o),
): Promise<ExecResult> {
  try {
    return await exec(command, { timeoutMs: opts.timeoutMs, signal: opts.signal });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const name = e.name || 'SshError';
    // A cancellation is not the host's failure; a changed host key must never be retried.
    if (name === 'SshCancelledError') throw e;
    throw new HostFailure(host.name, `${host.name}: ${opts.what}: ${e.message}`, name, name !== 'HostKeyError');
  }
}

function expectSuccess(
  host: HostRef,
  what: string,
  result: ExecResult,
  output = `${result.stdout}\n${result.stderr}`,
  context = '',
): string {
  if (result.code === 0) return result.stdout;
  const out = tail(output.trim());
  throw new HostFailure(
    host.name,
    `${host.name}: "${what}"${context} exited with ${result.code === null ? `signal ${result.signal ?? '?'}` : `code ${result.code}`}${out ? `; output: ${out}` : ''}`,
    'CommandFailed',
    false,
  );
}

/**
 * Retries what may heal (connection refused, timeouts, a dropped connection) up to `attempts` times,
 * 1 s then 2 s apart; the final error says how many attempts it took.
 */
export async function withRetries<T>(attempts: number, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof HostFailure) || !err.retryable) throw err;
      if (attempt >= attempts) {
        throw new HostFailure(err.host, `${err.message} (gave up after ${attempts} attempts)`, err.type, false);
      }
      await sleep(1000 * 2 ** (attempt - 1), signal);
    }
  }
}

export function readRelease(ssh: SshPort, host: HostRef, command: string, signal?: AbortSignal): Promise<string> {
  return runOnHost(ssh, host, command, { timeoutMs: 60_000, what: 'print the current release', signal }).then((out) =>
    parseRelease(host.name, out),
  );
}

/**
 * Installs `release` and asks the host which release now runs, in one SSH session (a session can
 * cost a second on hosts with a heavy login shell). The install runs as a detached job (see
 * runJobOnHost), so a worker crash or a dropped connection neither kills it half-done nor starts it
 * twice: the retry, with the same `jobKey`, waits for it and collects its outcome. The install
 * command may print anything; the answer is what `currentRelease` prints after a marker no install
 * prints by chance.
 */
export async function installRelease(
  ssh: SshPort,
  host: HostRef,
  commands: { install: string; currentRelease: string },
  release: string,
  opts: { timeoutMs: number; signal?: AbortSignal; jobKey?: string[] },
): Promise<string> {
  assertSafeRelease(release);
  const marker = `bluegreen-current-release-${randomBytes(8).toString('hex')}`;
  const install = renderCommand(commands.install, { release });
  // Without a key (outside a workflow) every call is its own job: still detached and locked.
  const jobKey = opts.jobKey ?? [randomBytes(8).toString('hex')];
  const job = renderJob({
    id: hostJobId(host, [...jobKey, 'install', release], install),
    command: install,
    limitSeconds: jobLimitSeconds(opts.timeoutMs),
  });
  // currentRelease runs in its own subshell, on its own lines: an `exit` or a trailing comment in it
  // cannot swallow what follows.
  const script = [
    job,
    'bg_rc=$?',
    'if [ "$bg_rc" -ne 0 ]; then exit "$bg_rc"; fi',
    `printf '\\n%s\\n' ${marker}`,
    '(',
    commands.currentRelease,
    ')',
  ].join('\n');
  const result = await execOnHost(ssh, host, script, { timeoutMs: opts.timeoutMs, what: `install ${release}`, signal: opts.signal });
  // The marker is printed only once the install succeeded: it tells which half failed.
  const at = result.stdout.lastIndexOf(`\n${marker}\n`);
  if (at < 0) expectSuccess(host, `install ${release}`, result);
  const after = at < 0 ? '' : result.stdout.slice(at + marker.length + 2);
  expectSuccess(host, 'print the current release', result, `${after}\n${result.stderr}`, ` (after install ${release} succeeded)`);
  const now = parseRelease(host.name, after);
  if (now !== release) {
    throw new HostFailure(
      host.name,
      `${host.name}: the install command finished but the host reports release "${now}", not "${release}"`,
      'ReleaseMismatch',
      false,
    );
  }
  return now;
}

export async function waitHealthy(
  check: HttpPort['checkHealth'],
  host: HostRef,
  release: string,
  health: { timeoutSeconds: number; intervalMs: number },
  signal?: AbortSignal,
): Promise<void> {
  try {
    await waitUntilHealthy(host.healthUrl, {
      release,
      deadlineMs: health.timeoutSeconds * 1000,
      intervalMs: health.intervalMs,
      timeoutMs: Math.min(5000, health.intervalMs * 4),
      signal,
      check,
    });
  } catch (err) {
    if (!(err instanceof HealthCheckFailed)) throw err;
    throw new HostFailure(
      host.name,
      `${host.name} did not become healthy on ${release} within ${health.timeoutSeconds} s (${err.attempts} checks of ${host.healthUrl}); last: ${err.last.reason}`,
      'HealthCheckFailed',
      false,
    );
  }
}

/** The last line of a command's output, which must be a release name. */
export function parseRelease(host: string, stdout: string): string {
  const line = stdout.trim().split('\n').pop()?.trim() ?? '';
  // Replacement characters mean the output was not text: say so rather than quote noise. Only the
  // line that matters is judged; a script may print anything before it.
  if (/\uFFFD/.test(line) || /[\0-\x08\x0e-\x1f]/.test(line)) {
    throw new HostFailure(
      host,
      `${host} printed binary output (${Buffer.byteLength(stdout)} bytes kept) where a release name was expected`,
      'UnsafeValueError',
      false,
    );
  }
  if (!RELEASE_PATTERN.test(line)) {
    throw new HostFailure(host, `${host} printed ${describeValue(line)} where a release name was expected`, 'UnsafeValueError', false);
  }
  return line;
}
