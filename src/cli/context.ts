// What every command shares: settings from the environment overridden by the global options, a
// client connection, and the run of an environment (its workflow id is derived from the name).
import os from 'node:os';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { connectionOptions, temporalSettings, webLink, workflowIdFor, type TemporalSettings } from '../config';
import type { blueGreenDeployment } from '../workflows';
import { CliError, EXIT, messageOf } from './errors';

export interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

export function settingsFrom(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  try {
    return temporalSettings({
      ...env,
      ...(opts.address ? { TEMPORAL_ADDRESS: opts.address } : {}),
      ...(opts.namespace ? { TEMPORAL_NAMESPACE: opts.namespace } : {}),
      ...(opts.taskQueue ? { BG_TASK_QUEUE: opts.taskQueue } : {}),
    });
  } catch (err) {
    throw new CliError(messageOf(err), EXIT.usage, 'fix the TEMPORAL_* environment variables (see README: Worker settings)');
  }
}

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
    throw new CliError(
      `cannot reach Temporal at ${settings.address}: ${messageOf(err)}`,
      EXIT.failed,
      'start a server (temporal server start-dev, see README), or point to yours with --address / TEMPORAL_ADDRESS',
    );
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

const ENV_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function checkEnvironment(env: string): string {
  if (!ENV_PATTERN.test(env)) {
    throw new CliError(
      `"${env}" is not an environment name (lowercase letters, digits and "-", up to 40)`,
      EXIT.usage,
      'use the "environment" of your plan, e.g. bluegreen status lab',
    );
  }
  return env;
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
      throw new CliError(
        `no deployment run for environment "${environment}" (workflow ${workflowId}) in namespace ${session.settings.namespace} at ${session.settings.address}`,
        EXIT.notFound,
        `start one with: bluegreen deploy PLAN   (or check --address / --namespace)`,
      );
    }
    throw err;
  }
}

/** Who is at the keyboard: the OS user, for --by defaults. */
export function osUser(): string {
  try {
    return os.userInfo().username || process.env.USER || 'unknown';
  } catch {
    return process.env.USER || 'unknown';
  }
}
