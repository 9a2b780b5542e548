// One real Temporal dev server for the whole test run; every test file joins it by address.
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
  }
}

let server: DevServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  server = await startDevServer({ port: Number(process.env.BG_TEST_TEMPORAL_PORT) || 0 });
  project.provide('temporalAddress', server.address);
  project.provide('temporalCliPath', server.cliPath);
  return async () => {
    await server?.stop();
  };
}
