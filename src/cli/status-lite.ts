// `bluegreen status ENV` for a running run without the Temporal SDK: one DescribeWorkflowExecution
// and one status query over node:http2 (src/client/lite). Loading @temporalio/client alone costs
// about a quarter of a second, most of a status call. It covers the common path only and answers
// undefined for anything else (a closed run, payloads other than plain JSON, an error it cannot
// word exactly as the full client does), and the caller then asks the full client instead.
import { connectionOptions, webLink, workflowIdFor, type TemporalSettings } from '../config';
import { MESSAGE_NAMES } from '../workflows/message-names';
import type { DeploymentStatus } from '../workflows/state';
import { ConnectError, GrpcError, GRPC, openChannel, type Channel } from '../client/lite/grpc';
import {
  decodeDescribeResponse,
  decodeQueryResponse,
  encodeDescribeRequest,
  encodeQueryRequest,
  type DescribeResponse,
  type Payload,
} from '../client/lite/messages';
import { noRunOf, unansweredQuery, unreachable } from './options';
import { PROGRESS_ACTIVITIES, progressOf, type LiveProgress } from './progress-of';
import type { RunView } from './run-view';

const SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const RUNNING = 1;
// As the full path: 5 s to connect (context.ts), 10 s for the status query (run-view.ts).
const CONNECT_TIMEOUT_MS = 5000;
const DESCRIBE_TIMEOUT_MS = 10_000;
const QUERY_DEADLINE_MS = 10_000;

/** Thrown inside this module for anything the light path leaves to the full client. */
class NotCovered extends Error {
  constructor(why: string, cause?: unknown) {
    super(cause === undefined ? why : `${why}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** The status of ENV's latest run if it is running and the light path can say it exactly; else undefined. */
export async function liteRunView(settings: TemporalSettings, environment: string): Promise<RunView | undefined> {
  const { address, tls, apiKey } = connectionOptions(settings);
  let channel: Channel;
  try {
    channel = await openChannel({
      address,
      tls: tls || undefined,
      apiKey,
      namespace: settings.namespace,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof ConnectError) {
      // The full client does not say why either; the last attempt's error helps with TLS set-ups.
      if (process.env.BG_DEBUG) console.error(`status: last connection attempt: ${err.last}`);
      throw unreachable(settings, err.message);
    }
    throw err;
  }
  try {
    return await viewOf(channel, settings, environment);
  } catch (err) {
    if (err instanceof NotCovered) {
      if (process.env.BG_DEBUG) console.error(`status: left to the full client: ${err.message}`);
      return undefined;
    }
    throw err;
  } finally {
    channel.close();
  }
}

async function viewOf(channel: Channel, settings: TemporalSettings, environment: string): Promise<RunView | undefined> {
  const workflowId = workflowIdFor(environment);
  let d: DescribeResponse;
  try {
    const reply = await channel.call(
      SERVICE,
      'DescribeWorkflowExecution',
      encodeDescribeRequest(settings.namespace, { workflowId }),
      DESCRIBE_TIMEOUT_MS,
    );
    d = decodeDescribeResponse(reply);
  } catch (err) {
    // A missing namespace is NOT_FOUND too, but the full client words it differently: leave it to it.
    if (err instanceof GrpcError && err.code === GRPC.NOT_FOUND && !err.status?.details.some((x) => /NamespaceNotFound/.test(x.typeUrl)))
      throw noRunOf(settings, environment, workflowId);
    throw new NotCovered('describe failed', err);
  }
  const info = d.info;
  // A closed run's status comes from its result in history: the full client's path.
  if (!info || info.status !== RUNNING || !info.startTime || !info.execution.runId) throw new NotCovered(`run status ${info?.status}`);
  const runId = info.execution.runId;
  const view: RunView = {
    environment,
    workflowId,
    runId,
    temporalStatus: 'RUNNING',
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
    link: webLink(settings, workflowId, runId),
  };
  const progress = progressFrom(d);
  try {
    const reply = decodeQueryResponse(
      await channel.call(
        SERVICE,
        'QueryWorkflow',
        encodeQueryRequest(settings.namespace, { workflowId, runId }, MESSAGE_NAMES.statusQuery),
        QUERY_DEADLINE_MS,
      ),
    );
    if (reply.rejectedStatus !== undefined || !reply.result) throw new NotCovered('query rejected or empty');
    view.status = jsonOf(reply.result[0]) as DeploymentStatus;
    if (progress.length > 0) view.progress = progress;
  } catch (err) {
    if (err instanceof NotCovered) throw err;
    if (!(err instanceof GrpcError && err.code === GRPC.DEADLINE_EXCEEDED)) throw new NotCovered('query failed', err);
    // The full client's words for a query that timed out (a ServiceError wrapping the gRPC one).
    const e = unansweredQuery(workflowId, info.taskQueue, QUERY_DEADLINE_MS, 'Failed to query Workflow');
    view.failure = e.message;
    view.hint = e.hint;
  }
  return view;
}

/** The pending deploy and smoke activities' progress, from the describe the run was found by. */
function progressFrom(d: DescribeResponse): LiveProgress[] {
  const out: LiveProgress[] = [];
  for (const a of d.pendingActivities) {
    if (!PROGRESS_ACTIVITIES.includes(a.activityType) || a.heartbeatDetails.length === 0) continue;
    const p = progressOf(a.activityType, a.attempt, a.lastHeartbeatTime?.toISOString(), jsonOf(a.heartbeatDetails[0]));
    if (p) out.push(p);
  }
  return out;
}

/** A payload as the SDK's default converter reads it; any other encoding is the full client's business. */
function jsonOf(p: Payload | undefined): unknown {
  if (!p) return undefined;
  const encoding = p.metadata.encoding?.toString('utf8');
  if (encoding === 'binary/null') return undefined;
  if (encoding !== 'json/plain') throw new NotCovered(`payload encoding ${encoding}`);
  try {
    return JSON.parse(p.data.toString('utf8'));
  } catch (err) {
    throw new NotCovered('payload is not JSON', err);
  }
}
