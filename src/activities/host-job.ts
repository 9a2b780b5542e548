// Long host commands (install, migrate) as detached jobs. Every SSH command runs under a wrapper
// that kills its process group when the channel closes (adapters/ssh/wrapper.ts), so a worker crash, a
// rolling restart or a network blip used to kill a half-applied install or migration, and the
// retry ran it again, possibly next to the old one still dying (or, with the connection silently
// gone, still running). A job instead runs in its own session on the host, with its output and
// exit status in files; the SSH session only starts it (or finds it) and waits for it. A retry by
// any attempt or worker derives the same job id and collects the same outcome instead of starting
// the command again.
//
// The runner is plain POSIX sh sent inline with every call: a fleet cannot be assumed to have our
// files. It needs `setsid` (util-linux, busybox) or perl to leave the session's process group.
import { createHash } from 'node:crypto';
import type { ExecResult, SshPort } from '../ports/ssh';
import { shellQuote } from './shell';
import type { HostRef } from './types';

/** Bytes of a job's output printed back (the end of it, where scripts say what went wrong). */
export const JOB_TAIL_BYTES = 8000;

/** The exit code the runner uses for its own trouble (no setsid, lock wait given up, job vanished). */
export const RUNNER_FAILED = 125;
/** The exit code of a job killed at its time limit (as timeout(1)). */
export const JOB_TIMED_OUT = 124;

/** Defines `detach CMD...`, used in a subshell: becomes CMD in a new session (so $! is its process group). */
const DETACH = `
if command -v setsid >/dev/null 2>&1; then detach() { exec setsid "$@"; }
elif command -v perl >/dev/null 2>&1; then detach() { exec perl -e 'use POSIX; POSIX::setsid(); exec @ARGV or exit 127' "$@"; }
else detach() { return 127; }; fi
# Sets t to whole seconds on a clock that only moves forward: /proc/uptime by a builtin read (Linux,
# no program started), else date(1). Only differences of it are used, within one boot.
now() { if read -r t _ < /proc/uptime 2>/dev/null; then t=\${t%%.*}; else t=$(date +%s); fi; }
# kill -0 also succeeds on a zombie, which a container without a reaping init may keep around.
# Builtins only (read, not cat): the runner calls this in its wait loop.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  st=; [ -r "/proc/$1/stat" ] && read -r st < "/proc/$1/stat" 2>/dev/null
  case $st in *") Z "*) return 1 ;; esac
}
`;

/**
 * Runs inside the detached session: takes the host lock, runs the command with a time limit
 * (lock wait included), records the exit status, releases the lock. The command gets its own
 * process group so the watchdog can kill all of it and still record what happened.
 *
 * Every external program costs 2-3 ms of CPU on a small VM, and a fleet deploy runs this per host
 * on a busy machine: builtins (read, not cat) wherever they do.
 */
const JOB_SCRIPT = `${DETACH}
d=$1; lock=$2; limit=$3; cmd=$4; id=$5
# One write(2) each (no temp file and mv): a reader sees nothing yet or all of it, and waits on empty.
echo $$ > "$d/pid"
finish() { echo "$1" > "$d/rc"; exit 0; }
note() { echo "bluegreen-job: $*" >> "$d/out"; }
now; start=$t; said=; empty=0
while ! mkdir "$lock" 2>/dev/null; do
  holder=; read -r holder < "$lock/pid" 2>/dev/null
  other=; read -r other < "$lock/job" 2>/dev/null
  if [ -n "$holder" ] && ! alive "$holder"; then
    note "removing a stale host lock (job $other, pid $holder is gone)"
    rm -rf "$lock"; continue
  fi
  if [ -z "$holder" ]; then
    empty=$((empty + 1))
    # A holder writes its pid right after its mkdir: a lock empty for 10 s lost its holder.
    if [ "$empty" -ge 10 ]; then note "removing a host lock that names no holder"; rm -rf "$lock"; continue; fi
  else empty=0; fi
  if [ -z "$said" ]; then note "waiting for the host lock: job $other (pid $holder) runs on this host"; said=1; fi
  now
  if [ $((t - start)) -ge "$limit" ]; then
    note "gave up after $limit s waiting for the host lock held by job $other (pid $holder)"
    finish ${RUNNER_FAILED}
  fi
  sleep 1
done
echo $$ > "$lock/pid"; echo "$id" > "$lock/job"
[ -n "$said" ] && note "took the host lock"
detach /bin/sh -c "$cmd" </dev/null >> "$d/out" 2>&1 &
cpid=$!
(
  while sleep 1 && alive "$cpid"; do
    now
    if [ $((t - start)) -ge "$limit" ]; then
      : > "$d/timedout"; kill -TERM -"$cpid" 2>/dev/null
      i=0; while alive "$cpid" && [ "$i" -lt 5 ]; do sleep 1; i=$((i + 1)); done
      kill -KILL -"$cpid" 2>/dev/null; exit 0
    fi
  done
) </dev/null >/dev/null 2>&1 &
watchdog=$!
wait "$cpid"; rc=$?
[ -f "$d/timedout" ] && { note "killed: the time limit of $limit s was reached"; rc=${JOB_TIMED_OUT}; }
kill "$watchdog" 2>/dev/null
holder=; read -r holder < "$lock/job" 2>/dev/null
[ "$holder" = "$id" ] && rm -rf "$lock"
finish "$rc"
`;

/**
 * Run by the SSH session: claims the job id (mkdir) and starts the job, or finds it; waits for its
 * exit status and prints the tail of its output. Killing this (the SSH wrapper does when the channel
 * closes) leaves the job running: it is in another session.
 *
 * The runner that started the job is its parent and simply waits for it (no polling: an install
 * is collected the moment it ends). A runner that finds a job started by another (a retry after a
 * crash or a dropped connection) polls for its exit status: 20 ms at first, then slower.
 */
const RUNNER_SCRIPT = `${DETACH}
id=$1; dir=$2; limit=$3; cmd=$4; tailbytes=$5
umask 077
base=\${dir:-\${BLUEGREEN_JOBS_DIR:-\${HOME:-/tmp}/.bluegreen/jobs}}
fail() { echo "bluegreen-job: $*" >&2; exit ${RUNNER_FAILED}; }
command -v setsid >/dev/null 2>&1 || command -v perl >/dev/null 2>&1 || fail "neither setsid nor perl on this host: a job could not outlive its SSH session"
{ [ -d "$base" ] || mkdir -p "$base" 2>/dev/null; } && [ -w "$base" ] || fail "cannot use $base for job state"
d=$base/j-$id
# Outcomes are kept a day, so a retry whose connection dropped while collecting still gets them.
# Swept by one call in 16, in the background: nobody waits for the clean-up.
[ $(($$ % 16)) -eq 0 ] && ( find "$base" -name 'j-*' -prune -type d -mtime +0 -exec rm -rf {} + </dev/null >/dev/null 2>&1 & )
child=
claim() {
  mkdir "$d" 2>/dev/null || return 1
  : > "$d/out"
  # Our child, in its own session: the SSH session's end (a kill of its process group) spares it.
  detach /bin/sh -c "$JOB" bluegreen-job-run "$d" "$base/host.lock" "$limit" "$cmd" "$id" </dev/null >/dev/null 2>&1 &
  child=$!
}
done_rc() {
  rc=; [ -f "$d/rc" ] && read -r rc < "$d/rc" 2>/dev/null
  [ -n "$rc" ] || return 1
  tail -c "$tailbytes" "$d/out" 2>/dev/null
  exit "$rc"
}
if claim; then
  wait "$child"
  done_rc
else
  echo "bluegreen-job: job $id was started before; waiting for it" >&2
fi
polls=0
nap() {
  polls=$((polls + 1))
  if [ "$polls" -le 25 ]; then sleep 0.02 2>/dev/null || sleep 1
  elif [ "$polls" -le 70 ]; then sleep 0.1 2>/dev/null || sleep 1
  else sleep 1; fi
}
now; since=$t
while :; do
  done_rc
  pid=; [ -f "$d/pid" ] && read -r pid < "$d/pid" 2>/dev/null
  if [ -n "$pid" ]; then
    if ! alive "$pid"; then
      done_rc
      tail -c "$tailbytes" "$d/out" 2>/dev/null
      fail "job $id (pid $pid) ended without recording its exit status (killed, or the host rebooted)"
    fi
  elif now && [ $((t - since)) -ge 20 ]; then
    # Claimed but never started (its claimer died in between): start it now, and wait for it.
    mv "$d" "$d.abandoned.$$" 2>/dev/null && rm -rf "$d.abandoned.$$"
    if claim; then wait "$child"; done_rc; fi
    now; since=$t
  fi
  nap
done
`;

export interface HostJob {
  /** Same id, same job: derive it from what must not run twice (see jobId). */
  id: string;
  command: string;
  /** For the job's own time limit; lock wait included. */
  limitSeconds: number;
  /** The state directory on the host; default $BLUEGREEN_JOBS_DIR, else ~/.bluegreen/jobs. */
  dir?: string;
}

/** A job id from the parts that identify one run of a command (run, step, host, command). */
export function jobId(...parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/**
 * The shell command that starts (or finds) the job and waits for it; its exit status is the
 * job's, its stdout the tail of the job's output. Everything variable is a single-quoted word.
 */
export function renderJob(job: HostJob): string {
  if (!/^[0-9a-f]{8,64}$/.test(job.id)) throw new Error(`job id must be hex, got ${JSON.stringify(job.id)}`);
  if (!Number.isInteger(job.limitSeconds) || job.limitSeconds < 1) throw new Error(`job time limit must be a positive number of seconds`);
  return [
    '/bin/sh -c',
    shellQuote(`JOB=${shellQuote(JOB_SCRIPT)}\n${RUNNER_SCRIPT}`),
    'bluegreen-job',
    shellQuote(job.id),
    shellQuote(job.dir ?? ''),
    String(job.limitSeconds),
    shellQuote(job.command),
    String(JOB_TAIL_BYTES),
  ].join(' ');
}

/**
 * Runs a job over SSH: as ssh.exec, but the command survives the session (see renderJob). The job
 * gets the time limit minus a margin, so it is killed (and says so) before the session gives up.
 */
export function execJob(
  ssh: SshPort,
  host: HostRef,
  job: Omit<HostJob, 'limitSeconds'>,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ExecResult> {
  return ssh.exec(host.ssh, renderJob({ ...job, limitSeconds: jobLimitSeconds(opts.timeoutMs) }), {
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
}

/** A job's own time limit for a session of `timeoutMs`: it ends first, so the job is killed and says so. */
export function jobLimitSeconds(timeoutMs: number): number {
  const seconds = timeoutMs / 1000;
  return Math.max(1, Math.floor(seconds - Math.min(15, seconds / 4)));
}
