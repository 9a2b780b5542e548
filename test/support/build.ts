// The test run builds dist/ once (compiled worker and CLI, prebuilt workflow bundle), so every test
// that starts a worker process or the CLI runs what ships, never a stale build.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths';

export async function buildDist(): Promise<void> {
  await promisify(execFile)(process.execPath, ['scripts/build.mjs'], { cwd: packageRoot, maxBuffer: 16 << 20 });
}
