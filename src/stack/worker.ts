// How the stack starts a bluegreen worker: the one place to change if the worker's entry point moves.
import fs from 'node:fs';
import { compiledWorker } from '../paths';
import { spawnDetached } from '../lab/procs';

/**
 * Starts one worker process detached from us (own session, output appended to logFile): the
 * compiled worker, `node dist/worker.js`, which loads the prebuilt workflow bundle (no tsx, no
 * webpack at start). Returns its PID.
 */
export function spawnStackWorker(env: Record<string, string>, logFile: string): number {
  if (!fs.existsSync(compiledWorker)) throw new Error(`${compiledWorker} is missing: run "npm run build" first`);
  return spawnDetached(process.execPath, [compiledWorker], logFile, { ...process.env, ...env });
}
