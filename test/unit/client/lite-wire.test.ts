// The light status client's protobuf codec against @temporalio/proto's own classes: what theirs
// encodes, ours decodes to the same values (unknown fields skipped), and what ours encodes, theirs reads.
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { google, temporal } from '@temporalio/proto';
import {
  decodeDescribeResponse,
  decodeQueryResponse,
  decodeRpcStatus,
  encodeDescribeRequest,
  encodeQueryRequest,
} from '../../../src/client/lite/messages';
import { fields, ProtoWriter, toInt, WireError } from '../../../src/client/lite/wire';

const api = temporal.api;
const json = (v: unknown) => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(v)) });
// Year 2128: seconds beyond 32 bits, so a 64-bit varint.
const LATE = { seconds: Long.fromNumber(5_000_000_000), nanos: 123_456_789 };
const LATE_MS = 5_000_000_000_000 + 123;

describe('decoding what @temporalio/proto encodes', () => {
  it('DescribeWorkflowExecutionResponse: run, status, times, task queue and pending activities; other fields skipped', () => {
    const bytes = api.workflowservice.v1.DescribeWorkflowExecutionResponse.encode({
      executionConfig: { taskQueue: { name: 'ignored' }, workflowRunTimeout: { seconds: Long.fromNumber(60) } },
      workflowExecutionInfo: {
        execution: { workflowId: 'bluegreen-prod', runId: 'run-1' },
        type: { name: 'blueGreenDeployment' },
        startTime: { seconds: Long.fromNumber(1_700_000_000), nanos: 999_999_999 },
        closeTime: LATE,
        status: api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
        historyLength: Long.fromNumber(4_294_967_297),
        memo: { fields: { note: json('hello') } },
        searchAttributes: { indexedFields: { BgEnvironment: json('prod') } },
        taskQueue: 'bluegreen',
        rootExecution: { workflowId: 'other', runId: 'other-run' },
      },
      pendingActivities: [
        {
          activityId: '7',
          activityType: { name: 'deployHosts' },
          state: api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
          heartbeatDetails: {
            payloads: [
              { ...json({ cluster: 'green', done: ['g1'] }), metadata: { encoding: Buffer.from('json/plain'), x: Buffer.from([0, 255]) } },
            ],
          },
          lastHeartbeatTime: LATE,
          attempt: 3,
          lastFailure: { message: 'boom', applicationFailureInfo: { type: 'X' } },
          currentRetryInterval: { seconds: Long.fromNumber(2) },
        },
        { activityId: '8', activityType: { name: 'smokeTest' }, attempt: -1 },
      ],
      pendingChildren: [{ workflowId: 'child', runId: 'c' }],
      pendingWorkflowTask: { attempt: 2 },
    }).finish();

    const d = decodeDescribeResponse(Buffer.from(bytes));
    expect(d.info).toEqual({
      execution: { workflowId: 'bluegreen-prod', runId: 'run-1' },
      status: 1,
      startTime: new Date(1_700_000_000_999),
      closeTime: new Date(LATE_MS),
      taskQueue: 'bluegreen',
    });
    expect(d.pendingActivities).toHaveLength(2);
    const [deploy, smoke] = d.pendingActivities;
    expect(deploy).toMatchObject({ activityType: 'deployHosts', attempt: 3, lastHeartbeatTime: new Date(LATE_MS) });
    expect(deploy?.heartbeatDetails).toHaveLength(1);
    expect(deploy?.heartbeatDetails[0]?.metadata).toEqual({ encoding: Buffer.from('json/plain'), x: Buffer.from([0, 255]) });
    expect(JSON.parse(deploy?.heartbeatDetails[0]?.data.toString() ?? '')).toEqual({ cluster: 'green', done: ['g1'] });
    // int32 -1 travels as a 10-byte two's complement varint.
    expect(smoke).toEqual({ activityType: 'smokeTest', heartbeatDetails: [], attempt: -1 });
  });

  it('an empty DescribeWorkflowExecutionResponse decodes to no info and no activities', () => {
    expect(decodeDescribeResponse(Buffer.alloc(0))).toEqual({ pendingActivities: [] });
  });

  it('QueryWorkflowResponse: the result payloads, or the status of a rejection', () => {
    const answered = api.workflowservice.v1.QueryWorkflowResponse.encode({
      queryResult: { payloads: [json({ step: 'gate' }), { metadata: { encoding: Buffer.from('binary/null') } }] },
      link: { workflowEvent: { namespace: 'default', workflowId: 'w', runId: 'r' } },
    }).finish();
    const q = decodeQueryResponse(Buffer.from(answered));
    expect(q.rejectedStatus).toBeUndefined();
    expect(q.result?.map((p) => p.metadata.encoding?.toString())).toEqual(['json/plain', 'binary/null']);
    expect(JSON.parse(q.result?.[0]?.data.toString() ?? '')).toEqual({ step: 'gate' });
    expect(q.result?.[1]?.data).toEqual(Buffer.alloc(0));

    const rejected = api.workflowservice.v1.QueryWorkflowResponse.encode({
      queryRejected: { status: api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED },
    }).finish();
    expect(decodeQueryResponse(Buffer.from(rejected))).toEqual({ rejectedStatus: 5 });
  });

  it('google.rpc.Status of a gRPC error: code, message and each detail type', () => {
    const value = api.errordetails.v1.NamespaceNotFoundFailure.encode({ namespace: 'nope' }).finish();
    const bytes = google.rpc.Status.encode({
      code: 5,
      message: 'Namespace nope is not found.',
      details: [{ type_url: 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure', value }],
    }).finish();
    const s = decodeRpcStatus(Buffer.from(bytes));
    expect(s).toMatchObject({ code: 5, message: 'Namespace nope is not found.' });
    expect(s.details).toHaveLength(1);
    expect(s.details[0]?.typeUrl).toMatch(/NamespaceNotFoundFailure$/);
    expect(api.errordetails.v1.NamespaceNotFoundFailure.decode(s.details[0]?.value ?? Buffer.alloc(0)).namespace).toBe('nope');
  });
});

describe('requests @temporalio/proto reads back', () => {
  it('DescribeWorkflowExecutionRequest: namespace and execution, with and without a run id', () => {
    const r = api.workflowservice.v1.DescribeWorkflowExecutionRequest.decode(
      encodeDescribeRequest('ns-é', { workflowId: 'bluegreen-lab' }),
    );
    expect(r.namespace).toBe('ns-é');
    expect(r.execution?.workflowId).toBe('bluegreen-lab');
    expect(r.execution?.runId).toBe('');
    const pinned = api.workflowservice.v1.DescribeWorkflowExecutionRequest.decode(
      encodeDescribeRequest('default', { workflowId: 'w', runId: 'r-1' }),
    );
    expect(pinned.execution?.runId).toBe('r-1');
  });

  it('QueryWorkflowRequest: namespace, pinned execution, query type, empty arguments and header', () => {
    const r = api.workflowservice.v1.QueryWorkflowRequest.decode(encodeQueryRequest('default', { workflowId: 'w', runId: 'r' }, 'status'));
    expect(r.namespace).toBe('default');
    expect(r.execution).toMatchObject({ workflowId: 'w', runId: 'r' });
    expect(r.query?.queryType).toBe('status');
    expect(r.query?.queryArgs?.payloads).toEqual([]);
    expect(r.query?.header).toBeTruthy();
    expect(r.queryRejectCondition).toBe(0);
  });

  it('varints up to 2^53 and nested messages survive a round trip through their reader', () => {
    const bytes = new ProtoWriter()
      .uint(6, 2 ** 53)
      .message(1, new ProtoWriter().string(1, 'w'))
      .finish();
    const info = api.workflow.v1.WorkflowExecutionInfo.decode(bytes);
    expect(info.historyLength.toString()).toBe(String(2 ** 53));
    expect(info.execution?.workflowId).toBe('w');
    expect(toInt([...fields(bytes)][0] as never)).toBe(2 ** 53);
  });
});

describe('malformed input', () => {
  it('a truncated message or varint is an error, not a partial answer', () => {
    const bytes = api.workflowservice.v1.DescribeWorkflowExecutionResponse.encode({
      workflowExecutionInfo: { execution: { workflowId: 'bluegreen-prod' }, taskQueue: 'q' },
    }).finish();
    expect(() => decodeDescribeResponse(Buffer.from(bytes.subarray(0, bytes.length - 3)))).toThrow(WireError);
    expect(() => [...fields(Buffer.from([0x08, 0xff]))]).toThrow(/truncated varint/);
    expect(() => [...fields(Buffer.from([0x0b]))]).toThrow(/unsupported wire type 3/);
  });

  it('the writer refuses negative numbers rather than write them wrong', () => {
    expect(() => new ProtoWriter().uint(1, -1)).toThrow(WireError);
  });
});
