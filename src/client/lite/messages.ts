// The few Temporal API messages `bluegreen status` reads, by field number (temporal/api/*.proto, API
// as shipped with SDK 1.24): requests written with ProtoWriter, responses read field by field.
// Only the fields status uses are decoded; every other field is skipped.
import { fields, ProtoWriter, toInt, toStr, type Field } from './wire';

export interface Payload {
  metadata: Record<string, Buffer>;
  data: Buffer;
}

export interface Execution {
  workflowId: string;
  runId?: string;
}

export interface ExecutionInfo {
  execution: Execution;
  /** temporal.api.enums.v1.WorkflowExecutionStatus (1 = RUNNING). */
  status: number;
  startTime?: Date;
  closeTime?: Date;
  taskQueue: string;
}

export interface PendingActivity {
  activityType: string;
  heartbeatDetails: Payload[];
  lastHeartbeatTime?: Date;
  attempt: number;
}

export interface DescribeResponse {
  info?: ExecutionInfo;
  pendingActivities: PendingActivity[];
}

export interface QueryResponse {
  result?: Payload[];
  /** Set when the server rejected the query: the run's status. */
  rejectedStatus?: number;
}

export interface RpcStatus {
  code: number;
  message: string;
  details: { typeUrl: string; value: Buffer }[];
}

// Messages a field may hold only on wire type 2; a field of the wrong type is treated as absent.
const lenField = (f: Field) => f.wire === 2;
const numField = (f: Field) => f.wire === 0;

const execution = (e: Execution) => new ProtoWriter().string(1, e.workflowId).string(2, e.runId);

/** temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest */
export function encodeDescribeRequest(namespace: string, e: Execution): Buffer {
  return new ProtoWriter().string(1, namespace).message(2, execution(e)).finish();
}

/** temporal.api.workflowservice.v1.QueryWorkflowRequest, with no arguments and no header fields. */
export function encodeQueryRequest(namespace: string, e: Execution, queryType: string): Buffer {
  const query = new ProtoWriter().string(1, queryType).message(2, new ProtoWriter()).message(3, new ProtoWriter());
  return new ProtoWriter().string(1, namespace).message(2, execution(e)).message(3, query).finish();
}

/** google.protobuf.Timestamp, as the SDK turns it into a Date (whole milliseconds, rounded down). */
export function decodeTimestamp(buf: Buffer): Date {
  let seconds = 0;
  let nanos = 0;
  for (const f of fields(buf)) {
    if (f.no === 1 && numField(f)) seconds = toInt(f);
    else if (f.no === 2 && numField(f)) nanos = toInt(f);
  }
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6));
}

/** temporal.api.common.v1.Payload: metadata is map<string, bytes>, each entry a message {1: key, 2: value}. */
export function decodePayload(buf: Buffer): Payload {
  const p: Payload = { metadata: {}, data: Buffer.alloc(0) };
  for (const f of fields(buf)) {
    if (!lenField(f)) continue;
    if (f.no === 1) {
      let key = '';
      let value: Buffer = Buffer.alloc(0);
      for (const e of fields(f.bytes)) {
        if (e.no === 1 && lenField(e)) key = toStr(e);
        else if (e.no === 2 && lenField(e)) value = e.bytes;
      }
      p.metadata[key] = value;
    } else if (f.no === 2) p.data = f.bytes;
  }
  return p;
}

/** temporal.api.common.v1.Payloads */
export function decodePayloads(buf: Buffer): Payload[] {
  const out: Payload[] = [];
  for (const f of fields(buf)) if (f.no === 1 && lenField(f)) out.push(decodePayload(f.bytes));
  return out;
}

function decodeExecution(buf: Buffer): Execution {
  const e: Execution = { workflowId: '' };
  for (const f of fields(buf)) {
    if (f.no === 1 && lenField(f)) e.workflowId = toStr(f);
    else if (f.no === 2 && lenField(f)) e.runId = toStr(f);
  }
  return e;
}

/** temporal.api.workflow.v1.WorkflowExecutionInfo (execution 1, start 3, close 4, status 5, task queue 13). */
export function decodeExecutionInfo(buf: Buffer): ExecutionInfo {
  const info: ExecutionInfo = { execution: { workflowId: '' }, status: 0, taskQueue: '' };
  for (const f of fields(buf)) {
    if (f.no === 1 && lenField(f)) info.execution = decodeExecution(f.bytes);
    else if (f.no === 3 && lenField(f)) info.startTime = decodeTimestamp(f.bytes);
    else if (f.no === 4 && lenField(f)) info.closeTime = decodeTimestamp(f.bytes);
    else if (f.no === 5 && numField(f)) info.status = toInt(f);
    else if (f.no === 13 && lenField(f)) info.taskQueue = toStr(f);
  }
  return info;
}

/** temporal.api.workflow.v1.PendingActivityInfo (type 2, heartbeat details 4, last heartbeat 5, attempt 7). */
export function decodePendingActivity(buf: Buffer): PendingActivity {
  const a: PendingActivity = { activityType: '', heartbeatDetails: [], attempt: 0 };
  for (const f of fields(buf)) {
    if (f.no === 2 && lenField(f)) {
      for (const t of fields(f.bytes)) if (t.no === 1 && lenField(t)) a.activityType = toStr(t);
    } else if (f.no === 4 && lenField(f)) a.heartbeatDetails = decodePayloads(f.bytes);
    else if (f.no === 5 && lenField(f)) a.lastHeartbeatTime = decodeTimestamp(f.bytes);
    else if (f.no === 7 && numField(f)) a.attempt = toInt(f);
  }
  return a;
}

/** temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse (info 2, pending activities 3). */
export function decodeDescribeResponse(buf: Buffer): DescribeResponse {
  const d: DescribeResponse = { pendingActivities: [] };
  for (const f of fields(buf)) {
    if (f.no === 2 && lenField(f)) d.info = decodeExecutionInfo(f.bytes);
    else if (f.no === 3 && lenField(f)) d.pendingActivities.push(decodePendingActivity(f.bytes));
  }
  return d;
}

/** temporal.api.workflowservice.v1.QueryWorkflowResponse (result 1, rejected 2 {status 1}). */
export function decodeQueryResponse(buf: Buffer): QueryResponse {
  const q: QueryResponse = {};
  for (const f of fields(buf)) {
    if (f.no === 1 && lenField(f)) q.result = decodePayloads(f.bytes);
    else if (f.no === 2 && lenField(f)) {
      q.rejectedStatus = 0;
      for (const r of fields(f.bytes)) if (r.no === 1 && numField(r)) q.rejectedStatus = toInt(r);
    }
  }
  return q;
}

/** google.rpc.Status, from a grpc-status-details-bin trailer (details are google.protobuf.Any). */
export function decodeRpcStatus(buf: Buffer): RpcStatus {
  const s: RpcStatus = { code: 0, message: '', details: [] };
  for (const f of fields(buf)) {
    if (f.no === 1 && numField(f)) s.code = toInt(f);
    else if (f.no === 2 && lenField(f)) s.message = toStr(f);
    else if (f.no === 3 && lenField(f)) {
      const any: { typeUrl: string; value: Buffer } = { typeUrl: '', value: Buffer.alloc(0) };
      for (const a of fields(f.bytes)) {
        if (a.no === 1 && lenField(a)) any.typeUrl = toStr(a);
        else if (a.no === 2 && lenField(a)) any.value = a.bytes;
      }
      s.details.push(any);
    }
  }
  return s;
}
