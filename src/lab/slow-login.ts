// A slow login shell on purpose: every SSH session on a lab host first waits `ms`, like root's
// `pyenv init` here, and holds a per-host lock while it does, like pyenv's lock, so N sessions that
// reach one host at once take about N x ms while sessions to different hosts overlap.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { labPaths } from './layout';

export const LOGIN_LOCK = '.login-lock';

function flockPath(): string {
  try {
    return execFileSync('/bin/sh', ['-c', 'command -v flock'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('a slow login needs flock (Debian package util-linux), which is not on the PATH');
  }
}

/** Writes <lab>/bin/slow-login, the sshd ForceCommand; returns its path. */
export function writeSlowLoginScript(dir: string): string {
  const file = labPaths(dir).slowLogin;
  const flock = flockPath();
  fs.mkdirSync(labPaths(dir).bin, { recursive: true });
  fs.writeFileSync(
    file,
    [
      '#!/bin/sh',
      '# sshd ForceCommand of a lab with a slow login: $1 seconds under a per-host lock, then the command.',
      `${flock} "$BG_HOST_ROOT/${LOGIN_LOCK}" sleep "$1" || exit 255`,
      // As sshd runs a command without ForceCommand: through a shell, or a login shell when there is none.
      'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi',
      'exec /bin/sh -l',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return file;
}

/** `sleep` takes fractional seconds (GNU coreutils). */
export const delaySeconds = (ms: number) => (ms / 1000).toFixed(3);

export function validSlowLoginMs(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) throw new Error(`slow login must be 0..600000 ms, got ${ms}`);
  return ms;
}
