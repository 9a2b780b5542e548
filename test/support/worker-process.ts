// The worker as its own OS process, compiled as in production (dist/, built by the global set-up),
// so tests can SIGKILL it mid-step.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { compiledWorker } from '../../src/paths';

export interface WorkerProcess {
  pid: number;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(process.execPath, [compiledWorker], {
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
