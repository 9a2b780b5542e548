// Makes a remote command killable. sshd does not kill a command (without a pty) when its
// channel closes, and an SSH "signal" request reaches only the session's first process, so
// `sleep 30; touch f` would outlive a timeout. sshd starts every session in its own process
// group (setsid), so the wrapper below kills that whole group when either
//   - it gets TERM/HUP/INT (the client's signal request), or
//   - its stdin reaches EOF (the client half-closed the channel, or the connection died:
//     sshd then closes the pipe), which also covers servers that ignore signal requests.
// Processes get TERM first and KILL after a grace period. Processes that leave the group on
// purpose (setsid, daemons) are not touched, so a restarted app survives a normal exit.
import { shellQuote } from '../../activities/shell';

export function wrapForKill(command: string, graceMs: number): string {
  const graceSeconds = Math.max(1, Math.ceil(graceMs / 1000));
  const script = [
    `trap 'trap "" TERM HUP INT; kill -TERM 0 2>/dev/null; (sleep ${graceSeconds}; kill -KILL 0) </dev/null >/dev/null 2>&1 &' TERM HUP INT`,
    // Background jobs get /dev/null as stdin in a non-interactive shell, so hand it over on fd 3.
    'exec 3<&0',
    '( while read -r _; do :; done <&3; kill -TERM $$ ) </dev/null >/dev/null 2>&1 &',
    'watcher=$!',
    'exec 3<&-',
    // A subshell, not `sh -c`: one fork instead of a fork and an exec per command (1-2 ms of CPU on a
    // small host, times every host). It starts as clean as `sh -c` would: no positional parameters,
    // no wrapper variables, the traps above reset (POSIX resets caught traps in a subshell).
    '( unset watcher; eval \'set --;\' "$1" ) </dev/null &',
    'wait $!',
    'code=$?',
    'kill $watcher 2>/dev/null',
    'exit $code',
  ].join('\n');
  return `exec /bin/sh -c ${shellQuote(script)} bluegreen-exec ${shellQuote(command)}`;
}
