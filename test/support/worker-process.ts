// The worker as its own OS process, compiled as in production (dist/, built by the global set-up),
// so tests can SIGKILL it mid-step.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { compiledWorker } from '../../src/paths';

export interface WorkerProcess {
  pid: number;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `entry`: another compiled worker (e.g. one installed from the npm tarball); default dist/worker.js. */
export async function startWorkerProcess(env: Record<string, string>, entry = compiledWorker): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(process.execPath, [entry], {
    env: { ...process.env, BG_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('worker: task queue')) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker did not start within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid ?? -1,
    output: () => out,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

/**
 * A test file's worker processes, each started with the secrets a worker checks before it polls (a
 * fresh key, a known_hosts entry; no host is ever contacted); all stopped, and the secrets removed,
 * after the file's tests.
 */
export function useWorkerProcesses(name: string): { start(env: Record<string, string>): Promise<WorkerProcess> } {
  const workers: WorkerProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bg-${name}-`));
  afterAll(async () => {
    for (const w of workers) await w.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const key = path.join(dir, 'id_ed25519');
  const knownHosts = path.join(dir, 'known_hosts');
  return {
    async start(env) {
      if (!fs.existsSync(key)) {
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
        fs.writeFileSync(knownHosts, `[127.0.0.1]:2222 ${fs.readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
      }
      const worker = await startWorkerProcess({ BG_SSH_KEY: key, BG_KNOWN_HOSTS: knownHosts, ...env });
      workers.push(worker);
      return worker;
    },
  };
}
