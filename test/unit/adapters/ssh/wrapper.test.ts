// The kill wrapper run by a local /bin/sh in its own process group, as sshd runs a session.
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { wrapForKill } from '../../../../src/adapters/ssh/wrapper';

function runWrapped(command: string) {
  // detached: a new session and process group, like sshd's setsid() for each session.
  const child = spawn('/bin/sh', ['-c', wrapForKill(command, 1000)], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout };
}

const alive = (prefix: string) => {
  try {
    return execFileSync('pgrep', ['-f', `^${prefix}`])
      .toString()
      .trim();
  } catch {
    return '';
  }
};

describe('wrapForKill', () => {
  it('passes the exit code and output of the command through', async () => {
    const r = runWrapped('echo hi; exit 7');
    expect(await r.exited).toBe(7);
    expect(r.stdout()).toBe('hi\n');
  });

  it('runs the command as sh -c would: no positional parameters, no wrapper variables, traps at default', async () => {
    const r = runWrapped('echo "[$#][${1-unset}][${watcher-unset}]"; trap');
    expect(await r.exited).toBe(0);
    expect(r.stdout()).toBe('[0][unset][unset]\n');
  });

  it('reports a syntax error in the command as sh -c does, with exit code 2', async () => {
    const r = runWrapped('echo (');
    expect(await r.exited).toBe(2);
    expect(r.stdout()).toBe('');
  });

  it('kills the whole process group when its stdin closes (client hung up or connection died)', async () => {
    const r = runWrapped('(sleep 31.91) & sleep 31.92');
    await new Promise((res) => setTimeout(res, 300));
    expect(alive('sleep 31.92')).not.toBe('');
    r.child.stdin.end();
    await r.exited;
    await new Promise((res) => setTimeout(res, 200));
    expect(alive('sleep 31.91')).toBe('');
    expect(alive('sleep 31.92')).toBe('');
  });

  it('kills the whole process group on TERM, and KILLs what ignores TERM after the grace period', async () => {
    const r = runWrapped(`sh -c "trap '' TERM; sleep 31.93" & sleep 31.94`);
    await new Promise((res) => setTimeout(res, 300));
    process.kill(r.child.pid as number, 'SIGTERM');
    await r.exited;
    await new Promise((res) => setTimeout(res, 100));
    expect(alive('sleep 31.94')).toBe('');
    await new Promise((res) => setTimeout(res, 1300));
    expect(alive('sleep 31.93')).toBe('');
  });
});
