// The compiled worker starts Temporal's workflow thread before it loads Temporal's worker, and
// Worker.create adopts that thread (DESIGN.md, "Start-up on two threads"); when the worker's options are not
// the ones the thread was started with, the SDK starts its own and nothing else changes.
import { once } from 'node:events';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, inject } from 'vitest';
import { compiledWorker } from '../../../src/paths';

async function startAndStop(extraEnv: Record<string, string>): Promise<{ out: string; code: number | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-worker-'));
  const keyPath = path.join(dir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
  fs.writeFileSync(path.join(dir, 'known_hosts'), '');
  try {
    const child = spawn(process.execPath, [compiledWorker], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        BG_TASK_QUEUE: `start-${process.pid}-${Date.now()}`,
        BG_SSH_KEY: keyPath,
        BG_KNOWN_HOSTS: path.join(dir, 'known_hosts'),
        BG_LOG_LEVEL: 'WARN',
        BG_WORKER_TIMING: '1',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 60_000;
    while (!out.includes('worker: task queue')) {
      if (child.exitCode !== null) throw new Error(out);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`no start within 60 s:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    return { out, code };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const phases = (out: string) => [...out.matchAll(/^worker: start-up: (.+) at \d+ ms$/gm)].map((m) => m[1]);

describe('the worker start-up', () => {
  it('adopts the workflow thread it started before loading Temporal, then polls', async () => {
    const { out, code } = await startAndStop({});
    expect(code, out).toBe(0);
    const seen = phases(out);
    expect(seen.slice(0, 4)).toEqual(['started', 'workflow thread started', 'Temporal loaded', 'connected']);
    // The thread may finish before or after the activities have loaded; both come before polling.
    expect(seen.slice(4, 6).sort()).toEqual(['activities ready', 'workflow thread adopted']);
    expect(seen.slice(6)).toEqual(['worker created']);
  });

  it('leaves the thread to the SDK when the options differ (TEMPORAL_DEBUG), and still starts and stops cleanly', async () => {
    const { out, code } = await startAndStop({ TEMPORAL_DEBUG: '1' });
    expect(code, out).toBe(0);
    expect(phases(out)).toContain('workflow thread not adopted (options differ): the SDK starts its own');
    expect(phases(out)).not.toContain('workflow thread adopted');
    expect(phases(out).at(-1)).toBe('worker created');
  });
});
