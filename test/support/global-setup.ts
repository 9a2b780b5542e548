// One real Temporal dev server for the whole test run; every test file joins it by address.
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { buildDist } from './build';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
  }
}

let server: DevServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Both at once: the build is CPU, the server start mostly waiting.
  const built = buildDist();
  server = await startDevServer({ port: Number(process.env.BG_TEST_TEMPORAL_PORT) || 0 });
  try {
    await built;
  } catch (err) {
    await server.stop();
    throw err;
  }
  project.provide('temporalAddress', server.address);
  project.provide('temporalCliPath', server.cliPath);
  return async () => {
    await server?.stop();
  };
}
