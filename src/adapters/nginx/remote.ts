// The shell scripts run on the nginx host (over SSH, under /bin/sh), and the parsing of what they
// print. Pure: every value from the plan is single-quoted with shellQuote, and the file content is
// passed as quoted printf arguments, so nothing in a plan or a file can become a command.
//
// Files next to an upstream file F (so rename stays on one filesystem):
//   F.bluegreen-tmp      the new content, renamed over F (atomic)
//   F.bluegreen-prev     F before the change: put back when `nginx -t` or the reload command fails
//   F.bluegreen-applied  a copy of F as of the last reload nginx confirmed: what nginx runs
//   F.bluegreen-lock     flock: one change at a time per file
import { shellQuote } from '../../plan/command-template';

export interface ReadReply {
  /** F as on disk. */
  file: string;
  /** F as nginx last loaded it through us; absent before our first change. */
  applied?: string;
  masterPid?: number;
  /** Worker processes of that master; the ones shutting down still serve connections from before a reload. */
  workers: number;
  shuttingDown: number;
  /** The pid file names no running process (or there is none). */
  notRunning?: string;
}

export class RemoteReplyError extends Error {
  constructor(
    readonly problem: string,
    readonly reply: string,
  ) {
    super(problem);
    this.name = 'RemoteReplyError';
  }
}

// Lines of a file are printed with a leading "|" (by awk, which also ends a last line that lacks
// its newline), so no content can pass for a marker line.
const PS = 'ps -e -o pid= -o ppid= -o args=';

export function readScript(file: string, pidFile: string): string {
  const f = shellQuote(file);
  return [
    'set -u',
    `f=${f}`,
    `if [ ! -f "$f" ]; then echo 'BG-MISSING'; exit 0; fi`,
    `echo 'BG-FILE'; awk '{ print "|" $0 }' "$f"; echo 'BG-END'`,
    `if [ -f "$f.bluegreen-applied" ]; then echo 'BG-APPLIED'; awk '{ print "|" $0 }' "$f.bluegreen-applied"; echo 'BG-END'; fi`,
    `echo "BG-PID $(head -c 32 ${shellQuote(pidFile)} 2>/dev/null | tr -dc 0-9)"`,
    `echo 'BG-PS'; ${PS}; echo 'BG-END'`,
  ].join('\n');
}

export function parseReadReply(stdout: string, file: string, pidFile: string): ReadReply | 'missing' {
  const lines = stdout.split('\n');
  if (lines[0] === 'BG-MISSING') return 'missing';
  const section = (name: string): string[] | undefined => {
    const start = lines.indexOf(name);
    if (start < 0) return undefined;
    const end = lines.indexOf('BG-END', start + 1);
    if (end < 0) throw new RemoteReplyError(`the ${name} section of the reply is cut short`, stdout);
    return lines.slice(start + 1, end);
  };
  const content = (name: string) => {
    const body = section(name);
    if (body === undefined) return undefined;
    if (body.some((l) => !l.startsWith('|'))) throw new RemoteReplyError(`unexpected line in the ${name} section`, stdout);
    return body.map((l) => `${l.slice(1)}\n`).join('');
  };
  const fileContent = content('BG-FILE');
  if (fileContent === undefined) throw new RemoteReplyError(`no contents of ${file} in the reply`, stdout);
  const pidLine = lines.find((l) => l.startsWith('BG-PID'));
  const ps = section('BG-PS');
  if (pidLine === undefined || ps === undefined) throw new RemoteReplyError('no process list in the reply', stdout);
  const pid = Number(pidLine.slice('BG-PID'.length).trim());
  const reply: ReadReply = { file: fileContent, workers: 0, shuttingDown: 0 };
  const applied = content('BG-APPLIED');
  if (applied !== undefined) reply.applied = applied;
  if (!Number.isInteger(pid) || pid <= 0) {
    reply.notRunning = `no process id in ${pidFile}`;
    return reply;
  }
  let masterSeen = false;
  for (const row of ps) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(row);
    if (!m) continue;
    const [, p, pp, args] = m as unknown as [string, string, string, string];
    if (Number(p) === pid) masterSeen = true;
    if (Number(pp) !== pid) continue;
    if (args.trim() === 'nginx: worker process') reply.workers++;
    else if (args.trim() === 'nginx: worker process is shutting down') reply.shuttingDown++;
  }
  if (!masterSeen) reply.notRunning = `${pidFile} names process ${pid}, which is not running`;
  else reply.masterPid = pid;
  return reply;
}

export interface WriteRequest {
  file: string;
  pidFile: string;
  /** The content of F the new one was computed from: the change is refused if F changed since. */
  expected: string;
  content: string;
  /** nginx must reload (a server went in or out); otherwise only markers changed. */
  reload: boolean;
  testCommand: string;
  reloadCommand: string;
  /** How long the reload may take to show (its old workers no longer plain workers). */
  confirmSeconds: number;
}

/** Outcome lines the write script ends with (one of them, always last). */
export type WriteOutcome =
  | { kind: 'ok'; what: 'unchanged' | 'written' | 'reloaded' }
  | { kind: 'changed-meanwhile' }
  | { kind: 'lock-busy' }
  | { kind: 'missing' }
  | { kind: 'not-running'; detail: string }
  | { kind: 'test-failed'; output: string }
  | { kind: 'reload-failed'; output: string }
  | { kind: 'unconfirmed'; seconds: number };

const printfLines = (content: string) => {
  const lines = content.endsWith('\n') ? content.slice(0, -1).split('\n') : content.split('\n');
  return `printf '%s\\n' ${lines.map(shellQuote).join(' ')}`;
};

export function writeScript(r: WriteRequest): string {
  // Plain workers of the master, one pid per line: the reload is confirmed once none of these is one.
  const workers = `${PS} | awk -v m="$master" '$2 == m && $3 == "nginx:" && $4 == "worker" && $5 == "process" && NF == 5 { print $1 }'`;
  return [
    'set -u',
    `f=${shellQuote(r.file)}`,
    `pidf=${shellQuote(r.pidFile)}`,
    'umask 022',
    `exec 9>>"$f.bluegreen-lock" || { echo 'BG-OUT lock-busy'; exit 75; }`,
    `flock -w 20 9 || { echo 'BG-OUT lock-busy'; exit 75; }`,
    `[ -f "$f" ] || { echo 'BG-OUT missing'; exit 66; }`,
    `${printfLines(r.expected)} > "$f.bluegreen-expect"`,
    // Through awk, as the read printed it (every line ends in a newline, the last one too).
    `if ! awk 1 "$f" | cmp -s "$f.bluegreen-expect" -; then rm -f "$f.bluegreen-expect"; echo 'BG-OUT changed-meanwhile'; exit 75; fi`,
    `rm -f "$f.bluegreen-expect"`,
    `${printfLines(r.content)} > "$f.bluegreen-tmp"`,
    // Already written and applied (a retry after success): nothing to do, no reload.
    `if cmp -s "$f.bluegreen-tmp" "$f" && [ -f "$f.bluegreen-applied" ] && cmp -s "$f" "$f.bluegreen-applied"; then rm -f "$f.bluegreen-tmp"; echo 'BG-OUT unchanged'; exit 0; fi`,
    `master=$(head -c 32 "$pidf" 2>/dev/null | tr -dc 0-9)`,
    `if [ -z "$master" ] || ! ps -p "$master" >/dev/null 2>&1; then rm -f "$f.bluegreen-tmp"; echo "BG-OUT not-running $pidf names no running process"; exit 69; fi`,
    `cp "$f" "$f.bluegreen-prev"`,
    `mv -f "$f.bluegreen-tmp" "$f"`,
    'restore() { mv -f "$f.bluegreen-prev" "$f"; }',
    // nginx -t before every reload; on failure the previous file is back and nginx never reloads.
    `if ! out=$( { ${r.testCommand} ; } 2>&1 ); then restore; echo 'BG-TEST'; printf '%s\\n' "$out" | tail -n 20; echo 'BG-OUT test-failed'; exit 65; fi`,
    ...(r.reload
      ? [
          `before=$(${workers})`,
          `if ! out=$( { ${r.reloadCommand} ; } 2>&1 ); then restore; echo 'BG-TEST'; printf '%s\\n' "$out" | tail -n 20; echo 'BG-OUT reload-failed'; exit 65; fi`,
          // Confirmed when no worker from before is still a plain worker: the new config serves.
          `i=0; while :; do now=$(${workers}); left=0; for p in $before; do case " $(echo $now) " in *" $p "*) left=1;; esac; done`,
          `  [ "$left" = 0 ] && break; i=$((i + 1)); [ "$i" -ge ${r.confirmSeconds * 10} ] && { echo 'BG-OUT unconfirmed'; exit 69; }; sleep 0.1; done`,
        ]
      : []),
    `cp "$f" "$f.bluegreen-applied.tmp" && mv -f "$f.bluegreen-applied.tmp" "$f.bluegreen-applied"`,
    `rm -f "$f.bluegreen-prev"`,
    `echo 'BG-OUT ${r.reload ? 'reloaded' : 'written'}'`,
  ].join('\n');
}

export function parseWriteReply(stdout: string, confirmSeconds: number): WriteOutcome {
  const lines = stdout.trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  const outLine = /^BG-OUT (\S+)(?: (.*))?$/.exec(last);
  if (!outLine) throw new RemoteReplyError('the change script ended without saying how', stdout);
  const [, what, rest] = outLine as unknown as [string, string, string | undefined];
  const tested = () => {
    const i = lines.indexOf('BG-TEST');
    return (i < 0 ? [] : lines.slice(i + 1, -1)).join('\n').trim();
  };
  switch (what) {
    case 'unchanged':
    case 'written':
    case 'reloaded':
      return { kind: 'ok', what };
    case 'changed-meanwhile':
    case 'lock-busy':
    case 'missing':
      return { kind: what };
    case 'not-running':
      return { kind: 'not-running', detail: rest ?? '' };
    case 'test-failed':
    case 'reload-failed':
      return { kind: what, output: tested() };
    case 'unconfirmed':
      return { kind: 'unconfirmed', seconds: confirmSeconds };
    default:
      throw new RemoteReplyError(`unknown outcome ${JSON.stringify(what)}`, stdout);
  }
}
