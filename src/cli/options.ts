// What every command shares before it talks to Temporal: settings from the environment overridden by
// the global options, the environment name check, and the errors both status read paths (the full
// client and the light one) give. Nothing here loads the Temporal SDK: commands import it at start.
import os from 'node:os';
import { temporalSettings, type TemporalSettings } from '../config';
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

export function unreachable(settings: TemporalSettings, why: string): CliError {
  return new CliError(
    `cannot reach Temporal at ${settings.address}: ${why}`,
    EXIT.failed,
    'start a server (temporal server start-dev, see README), or point to yours with --address / TEMPORAL_ADDRESS',
  );
}

export function noRunOf(settings: TemporalSettings, environment: string, workflowId: string): CliError {
  return new CliError(
    `no deployment run for environment "${environment}" (workflow ${workflowId}) in namespace ${settings.namespace} at ${settings.address}`,
    EXIT.notFound,
    `start one with: bluegreen deploy PLAN   (or check --address / --namespace)`,
  );
}

export function unansweredQuery(workflowId: string, taskQueue: string, deadlineMs: number, why: string): CliError {
  return new CliError(
    `the run ${workflowId} did not answer the status query within ${deadlineMs / 1000} s: ${why}`,
    EXIT.failed,
    `make sure a worker polls task queue "${taskQueue}" (npm run worker, see README), then try again`,
  );
}

/** Who is at the keyboard: the OS user, for --by defaults. */
export function osUser(): string {
  try {
    return os.userInfo().username || process.env.USER || 'unknown';
  } catch {
    return process.env.USER || 'unknown';
  }
}
