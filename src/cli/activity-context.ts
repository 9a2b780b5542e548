// Runs a real activity function outside a worker (plan check): the activities read
// Context.current() for heartbeats and cancellation, so give them a context of their own.
import { Context, asyncLocalStorage, type Info } from '@temporalio/activity';
import { noopMetricMeter, type Logger } from '@temporalio/common';

const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export function runAsActivity<T>(name: string, fn: () => Promise<T>, signal: AbortSignal = new AbortController().signal): Promise<T> {
  const info = {
    activityId: `plan-check-${name}`,
    activityType: name,
    attempt: 1,
    isLocal: true,
    taskQueue: 'plan-check',
    taskToken: new Uint8Array(),
    base64TaskToken: '',
    workflowType: 'plan-check',
    workflowNamespace: 'none',
    activityNamespace: 'none',
    workflowExecution: { workflowId: 'plan-check', runId: 'plan-check' },
    scheduledTimestampMs: Date.now(),
    startToCloseTimeoutMs: 120_000,
    scheduleToCloseTimeoutMs: 120_000,
    currentAttemptScheduledTimestampMs: Date.now(),
    heartbeatTimeoutMs: undefined,
    heartbeatDetails: undefined,
  } as unknown as Info;
  const cancelled = new Promise<never>(() => {});
  const ctx = new Context(info, cancelled, signal, () => {}, undefined, quiet, noopMetricMeter, undefined as never);
  return asyncLocalStorage.run(ctx, fn);
}
