// Joins the run's one dev server (started by global-setup) and runs a worker for the duration of a test.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger, type WorkflowBundlePath } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Activities } from '../../src/activities';

import { workflowBundlePath } from '../../src/paths';

let quietRuntime = false;
/** Keeps the worker's own logs out of test output unless asked for. */
export function quietTemporalLogs(): void {
  if (quietRuntime || process.env.BG_TEST_VERBOSE) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  quietRuntime = true;
}

/** The workflow bundle the global set-up built from src/workflows for this test run. */
export async function workflowBundle(): Promise<WorkflowBundlePath> {
  return { codePath: workflowBundlePath };
}

export interface TemporalHandles {
  address: string;
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export async function connectClient(): Promise<TemporalHandles> {
  const address = inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  return { address, client, connection, close: () => connection.close() };
}

/** Connects before the file's tests and closes after them; the handles are filled in by then. */
export function useTemporal(): TemporalHandles {
  // Filled in place, so that the object the test file holds is the connected one.
  const handles = {} as TemporalHandles;
  beforeAll(async () => {
    Object.assign(handles, await connectClient());
  });
  afterAll(async () => {
    if (handles.connection) await handles.close();
  });
  return handles;
}

/** Runs an in-process worker on its own task queue while `fn` runs, then shuts it down. */
export async function withWorker<T>(taskQueue: string, activities: Activities, fn: () => Promise<T>): Promise<T> {
  quietTemporalLogs();
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  try {
    const worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
      // As the real worker (src/worker.ts): heartbeat details reach the server within 3 s, so what
      // status shows from them in a test is what an operator sees.
      maxHeartbeatThrottleInterval: '3 seconds',
    });
    return await worker.runUntil(fn);
  } finally {
    await connection.close();
  }
}

let seq = 0;
export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++seq}`;
}
