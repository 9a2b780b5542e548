// Runs the real `bluegreen` bin as a child process against the test run's Temporal server.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import type { PlanInput } from '../../src/plan/schema';

export const BIN = fileURLToPath(new URL('../../bin/bluegreen.mjs', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function bg(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: REPO,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: 'default', NO_COLOR: '1', ...env },
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(Object.assign(err, { stdout, stderr }));
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      },
    );
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bg-${prefix}-`));
}

export function writePlan(dir: string, name: string, plan: PlanInput | Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(plan, null, 2));
  return file;
}

let seq = 0;
/** A fresh environment name (the workflow id derives from it). */
export function uniqueEnv(prefix: string): string {
  return `${prefix}-${(process.pid % 100000).toString(36)}-${Date.now().toString(36)}-${++seq}`.slice(0, 40);
}
