// What the commands that use the full Temporal client share: a connection, and the run of an
// environment (its workflow id is derived from the name).
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { connectionOptions, webLink, workflowIdFor, type TemporalSettings } from '../config';
import type { blueGreenDeployment } from '../workflows';
import { CliError, EXIT, messageOf } from './errors';
import { checkEnvironment, noRunOf, settingsFrom, unreachable, type GlobalOptions } from './options';

export { checkEnvironment, osUser, settingsFrom, type GlobalOptions } from './options';

export interface Session {
  settings: TemporalSettings;
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export async function connect(settings: TemporalSettings): Promise<Session> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(settings), connectTimeout: '5 seconds' });
  } catch (err) {
    throw unreachable(settings, messageOf(err));
  }
  const client = new Client({ connection, namespace: settings.namespace });
  return { settings, client, connection, close: () => connection.close() };
}

/** Opens a session, runs fn, always closes the connection. */
export async function withSession<T>(opts: GlobalOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const session = await connect(settingsFrom(opts));
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

export type DeploymentHandle = WorkflowHandle<typeof blueGreenDeployment>;

export interface RunRef {
  environment: string;
  workflowId: string;
  runId: string;
  running: boolean;
  statusName: string;
  startTime: Date;
  closeTime?: Date;
  taskQueue: string;
  handle: DeploymentHandle;
  link: string;
}

/** The latest run of an environment (or the run named by `runId`); exit 3 if there is none. */
export async function findRun(session: Session, environment: string, runId?: string): Promise<RunRef> {
  checkEnvironment(environment);
  const workflowId = workflowIdFor(environment);
  const handle = session.client.workflow.getHandle<typeof blueGreenDeployment>(workflowId, runId);
  try {
    const d = await handle.describe();
    return {
      environment,
      workflowId,
      runId: d.runId,
      running: d.status.name === 'RUNNING',
      statusName: d.status.name,
      startTime: d.startTime,
      closeTime: d.closeTime,
      taskQueue: d.taskQueue,
      // Pin the handle to this run, so a decision never lands on a newer run by accident.
      handle: session.client.workflow.getHandle<typeof blueGreenDeployment>(workflowId, d.runId),
      link: webLink(session.settings, workflowId, d.runId),
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      if (runId) {
        throw new CliError(
          `no run ${runId} of environment "${environment}" (workflow ${workflowId})`,
          EXIT.notFound,
          `see its runs with: bluegreen history ${environment}`,
        );
      }
      throw noRunOf(session.settings, environment, workflowId);
    }
    throw err;
  }
}
