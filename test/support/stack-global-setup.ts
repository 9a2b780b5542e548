// One production-shaped stack for the stack tests: a throwaway PostgreSQL cluster, the Temporal
// server (go.temporal.io/server v1.29.1) on it, our namespace and search attributes. No workers:
// each test starts its own worker processes (compiled, from dist/) on its own task queue.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { frontendAddress, stackDown, stackUp } from '../../src/stack/stack';
import { temporalCliPath } from '../../src/temporal/dev-server';
import { buildDist } from './build';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
    stackDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-stacktest-'));
  const t0 = Date.now();
  const built = buildDist();
  try {
    const { state, elapsedMs } = await stackUp({
      dir,
      port: 0,
      ui: false,
      workers: 0,
      log: (m) => console.log(`stack: +${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`),
    });
    await built;
    console.log(
      `stack up in ${(elapsedMs / 1000).toFixed(1)} s (${Object.entries(state.timings)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
        .join(', ')})`,
    );
    project.provide('temporalAddress', frontendAddress(state));
    project.provide('temporalCliPath', await temporalCliPath());
    project.provide('stackDir', dir);
  } catch (err) {
    await built.catch(() => undefined);
    await stackDown(dir);
    throw err;
  }
  return async () => {
    await stackDown(dir);
  };
}
