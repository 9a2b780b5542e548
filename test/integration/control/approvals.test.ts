// Who may approve: the plan's approvers are enforced at every gate, a decision names its gate and
// (optionally) its run, and decisions that do not apply change nothing. The Update is refused with
// the reason (before anything reaches history); the signal is ignored and recorded in `decisions`.
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { blueGreenDeployment } from '../../../src/workflows';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, statusQuery, type GateDecision } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { waitForStatus } from '../../support/wait';

const temporal = useTemporal();

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
type Handle = WorkflowHandle<typeof blueGreenDeployment>;

function gatedPlan(fleet: FakeFleet) {
  return fleet.plan({
    gates: { promote: { enabled: true, timeoutSeconds: 600, onTimeout: 'reject', approvers: ['alice', 'bob'] } },
  });
}

const waitForGate = (handle: Handle, gate: string) => waitForStatus(handle, `gate ${gate}`, (s) => s.pendingGate?.gate === gate, 30_000);

async function updateRefusal(handle: Handle, d: GateDecision, kind: 'approve' | 'reject' = 'approve'): Promise<string> {
  const err = await handle.executeUpdate(kind === 'approve' ? approveUpdate : rejectUpdate, { args: [d] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

describe('approvals', () => {
  it('enforces approvers, run and gate: refusals and ignored signals change nothing; a listed approver promotes', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const taskQueue = uniqueId('approvals');
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const handle = await temporal.client.workflow.start(blueGreenDeployment, {
        taskQueue,
        workflowId: uniqueId('gated'),
        args: [gatedPlan(fleet)],
        workflowExecutionTimeout: '2 minutes',
      });
      const runId = handle.firstExecutionRunId;
      const atGate = await waitForGate(handle, 'promote-green');
      expect(atGate.pendingGate?.approvers).toEqual(['alice', 'bob']);
      const changesAtGate = [...fleet.changes];

      // Update: refused with the reason, for a stranger, a stale run, a gate that is not pending, no name.
      expect(await updateRefusal(handle, { gate: 'promote-green', release: 'v2', by: 'mallory', reason: 'lgtm' })).toBe(
        'mallory may not decide gate promote-green (approvers: alice, bob)',
      );
      expect(await updateRefusal(handle, { gate: 'promote-green', release: 'v2', by: 'mallory' }, 'reject')).toMatch(
        /mallory may not decide/,
      );
      expect(await updateRefusal(handle, { gate: 'promote-green', release: 'v2', by: 'alice', runId: 'an-earlier-run' })).toBe(
        'the decision names run an-earlier-run, not this run',
      );
      expect(await updateRefusal(handle, { gate: 'promote-blue', release: 'v2', by: 'alice', runId })).toBe(
        'gate promote-blue is not pending: the pending gate is promote-green',
      );
      expect(await updateRefusal(handle, { gate: 'promote-green', by: '  ' })).toBe('a decision needs {"gate": "...", "by": "..."}');
      expect(await updateRefusal(handle, { by: 'alice' } as GateDecision)).toBe('a decision needs {"gate": "...", "by": "..."}');
      // Oversized or control-character values are refused without being echoed.
      const huge = 'alice'.repeat(2000);
      const refusal = await updateRefusal(handle, { gate: 'promote-green', by: huge });
      expect(refusal).toBe('a decision\'s "by" must be at most 100 characters');
      expect(await updateRefusal(handle, { gate: 'promote-green\napproved', by: 'alice' })).toBe(
        'a decision\'s "gate" must not contain control characters',
      );

      // Signals that do not apply: ignored, recorded with who and why.
      await handle.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'mallory', reason: 'trust me' });
      await handle.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice', runId: 'an-earlier-run' });
      await handle.signal(approveSignal, { gate: 'migrate', release: 'v2', by: 'alice', runId });
      await handle.signal(rejectSignal, { gate: 'promote-blue', release: 'v2', by: 'bob' });
      await handle.signal(approveSignal, { gate: 'promote-green', by: huge });

      const after = await handle.query(statusQuery);
      expect(after.pendingGate?.gate).toBe('promote-green');
      expect(after.step).toBe('verify');
      expect(fleet.changes).toEqual(changesAtGate);
      expect(after.decisions.map((d) => [d.kind, d.by, d.gate, d.note])).toEqual([
        ['ignored', 'mallory', 'promote-green', 'approve ignored: mallory may not decide gate promote-green (approvers: alice, bob)'],
        ['ignored', 'alice', 'promote-green', 'approve ignored: the decision names run an-earlier-run, not this run'],
        ['ignored', 'alice', 'migrate', 'approve ignored: gate migrate is not pending: the pending gate is promote-green'],
        ['ignored', 'bob', 'promote-blue', 'reject ignored: gate promote-blue is not pending: the pending gate is promote-green'],
        ['ignored', huge.slice(0, 100), 'promote-green', 'approve ignored: a decision\'s "by" must be at most 100 characters'],
      ]);
      expect(after.decisions[0]?.reason).toBe('trust me');

      // A listed approver, naming this run: accepted by Update.
      const ack = await handle.executeUpdate(approveUpdate, {
        args: [{ gate: 'promote-green', release: 'v2', by: 'alice', reason: 'smoke ok', runId }],
      });
      expect(ack).toEqual({ gate: 'promote-green', decision: 'approved', by: 'alice', release: 'v2' });
      await waitForGate(handle, 'promote-blue');
      // The other approver, by signal, without a run id (allowed: gate and release still have to match).
      await handle.signal(approveSignal, { gate: 'promote-blue', release: 'v2', by: 'bob' });
      const result = await handle.result();
      expect(result.outcome).toBe('succeeded');
      expect(result.decisions.filter((d) => d.kind === 'approve').map((d) => `${d.gate}:${d.by}`)).toEqual([
        'promote-green:alice',
        'promote-blue:bob',
      ]);

      // Refused Updates never reached history; the accepted one did, once.
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
    });
  });

  it('a stale approval naming the previous run cannot promote the next run of the same environment', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const taskQueue = uniqueId('stale');
    const workflowId = uniqueId('env');
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      const first = await temporal.client.workflow.start(blueGreenDeployment, { taskQueue, workflowId, args: [gatedPlan(fleet)] });
      await waitForGate(first, 'promote-green');
      await first.signal(rejectSignal, {
        gate: 'promote-green',
        release: 'v2',
        by: 'alice',
        reason: 'not today',
        runId: first.firstExecutionRunId,
      });
      const firstOutcome = await first.result().then(
        (r) => r.outcome,
        (e: Error & { cause?: Error }) => e.cause?.message ?? e.message,
      );
      expect(firstOutcome).toMatch(/rejected by alice: not today/);

      const second = await temporal.client.workflow.start(blueGreenDeployment, { taskQueue, workflowId, args: [gatedPlan(fleet)] });
      expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
      await waitForGate(second, 'promote-green');
      // Sent to the workflow id (which now means the second run), carrying the first run's id.
      const latest = temporal.client.workflow.getHandle(workflowId);
      await latest.signal(approveSignal, { gate: 'promote-green', release: 'v2', by: 'alice', runId: first.firstExecutionRunId });
      const s = await second.query(statusQuery);
      expect(s.pendingGate?.gate).toBe('promote-green');
      expect(s.decisions.at(-1)).toMatchObject({
        kind: 'ignored',
        by: 'alice',
        note: `approve ignored: the decision names run ${first.firstExecutionRunId}, not this run`,
      });
      await second.signal(rejectSignal, { gate: 'promote-green', release: 'v2', by: 'bob', runId: second.firstExecutionRunId });
      await second.result().catch(() => undefined);
    });
  });
  it('a stale approval cannot promote another release: reviewed run A (v2.4.1), sent after run B (v2.5.0-rc) reached the same gate', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const taskQueue = uniqueId('stale-release');
    const workflowId = uniqueId('env');
    const planFor = (release: string) => ({ ...gatedPlan(fleet), release });
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      // Run A waits at promote-green with v2.4.1; the operator reviews it. Then someone else rejects it.
      const a = await temporal.client.workflow.start(blueGreenDeployment, { taskQueue, workflowId, args: [planFor('v2.4.1')] });
      await waitForGate(a, 'promote-green');
      await a.executeUpdate(rejectUpdate, { args: [{ gate: 'promote-green', release: 'v2.4.1', by: 'bob', reason: 'error budget' }] });
      await a.result().catch(() => undefined);

      // Run B reaches the same gate with another release.
      const b = await temporal.client.workflow.start(blueGreenDeployment, { taskQueue, workflowId, args: [planFor('v2.5.0-rc')] });
      await waitForGate(b, 'promote-green');
      const changesAtGate = [...fleet.changes];
      // What the operator types for A, sent to the workflow id (which now means B), as the Temporal CLI would.
      const latest = temporal.client.workflow.getHandle<typeof blueGreenDeployment>(workflowId);
      const forA = { gate: 'promote-green', release: 'v2.4.1', by: 'alice', reason: 'dashboards green' };
      expect(await updateRefusal(latest, forA)).toBe('the decision is for release v2.4.1, but this run deploys v2.5.0-rc');
      // A decision that names no release cannot be checked against what was reviewed: refused too.
      expect(await updateRefusal(latest, { gate: 'promote-green', by: 'alice' })).toMatch(
        /^a decision must name the release it is for \("release": "..."\), so that it cannot promote a run nobody reviewed; this run deploys v2.5.0-rc$/,
      );
      // The same by signal: recorded as ignored, with the reason.
      await latest.signal(approveSignal, forA);
      await latest.signal(approveSignal, { gate: 'promote-green', by: 'alice' });
      const s = await b.query(statusQuery);
      expect(s.pendingGate?.gate).toBe('promote-green');
      expect(fleet.changes).toEqual(changesAtGate);
      expect(s.decisions.map((d) => [d.kind, d.release, d.note])).toEqual([
        ['ignored', 'v2.4.1', 'approve ignored: the decision is for release v2.4.1, but this run deploys v2.5.0-rc'],
        ['ignored', undefined, expect.stringMatching(/^approve ignored: a decision must name the release it is for/)],
      ]);

      // Naming B's release (what B's reviewer saw) promotes it.
      await latest.executeUpdate(approveUpdate, {
        args: [{ gate: 'promote-green', release: 'v2.5.0-rc', by: 'alice', runId: b.firstExecutionRunId }],
      });
      expect((await waitForGate(b, 'promote-blue')).decisions.at(-1)).toMatchObject({ kind: 'approve', release: 'v2.5.0-rc', by: 'alice' });
      await b.signal(rejectSignal, { gate: 'promote-blue', release: 'v2.5.0-rc', by: 'bob' });
      await b.result().catch(() => undefined);
    });
  });
});
