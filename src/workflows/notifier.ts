// Notifications from the workflow's side: the run's events, built from its status, handed to the
// `notify` activity in order, one batch at a time per webhook, off the critical path. Nothing waits for a
// delivery except the end of the run (and continue-as-new), and only for a bounded time. A plan
// without `notify` gets no events, no activity and no timer: its commands are exactly as before.
import { CancellationScope, condition, workflowInfo } from '@temporalio/workflow';
import type { GateCommands, NotifyEvent } from '../activities/notify-types';
import { NOTIFICATION_SCHEMA } from './notification-schema';
import type { NotifyEventName, Plan, Webhook } from '../plan/schema';
import type { Call } from './activity-calls';
import type { GateEvents } from './control';
import type { DeploymentStatus, FailureRecord, Outcome, PendingGate, RollbackRecord } from './state';

/** Events handed to one activity call at most (a long queue goes in several, still in order). */
const MAX_BATCH = 20;
/** An event's worst case per webhook, as notify.ts bounds it: 3 attempts and 1 + 2 s between them. */
const worstCaseMs = (timeoutSeconds: number) => 3 * timeoutSeconds * 1000 + 3000;
const MAX_TEXT = 2000;
/** The most the end of a run (or a continue-as-new) waits for deliveries, whatever the timeouts. */
const MAX_SETTLE_MS = 60_000;
const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

/** What a run that continues as new hands on: the numbering and, per webhook, what it has not confirmed. */
export interface NotifierCarry {
  seq: number;
  pending: Record<string, NotifyEvent[]>;
  failing: string[];
}

/** One webhook's ordered stream: a receiver that is slow or down holds up only its own events. */
interface Stream {
  hook: Webhook;
  queue: NotifyEvent[];
  inFlight: NotifyEvent[];
  pumping: boolean;
}

export class Notifier implements GateEvents {
  private readonly hooks: Webhook[];
  private readonly streams: Stream[];
  private seq: number;
  private readonly failing: Set<string>;

  constructor(
    private readonly plan: Plan,
    private readonly status: DeploymentStatus,
    private readonly call: Call,
    private readonly kind: NotifyEvent['kind'],
    carried?: NotifierCarry,
  ) {
    this.hooks = plan.notify ?? [];
    this.streams = this.hooks.map((hook) => ({ hook, queue: [], inFlight: [], pumping: false }));
    this.seq = carried?.seq ?? 0;
    this.failing = new Set(carried?.failing ?? []);
    if (this.hooks.length === 0) return;
    status.notifications ??= this.hooks.map((h) => ({ name: h.name, delivered: 0, failed: 0 }));
    for (const s of this.streams) {
      const left = carried?.pending[s.hook.name];
      if (left?.length) this.enqueue(s, left);
    }
  }

  get enabled(): boolean {
    return this.hooks.length > 0;
  }

  /**
   * Waits until every event emitted so far has been handed over and reported back, for at most
   * twice the worst case of one event (the batch in flight, then the last one), and 60 s. A run that ends
   * must not lose its outcome notification; it must not hang on a receiver either.
   */
  async settle(): Promise<void> {
    if (!this.streams.some((s) => s.pumping)) return;
    const longest = Math.max(...this.hooks.map((h) => h.timeoutSeconds));
    await CancellationScope.nonCancellable(() =>
      condition(() => !this.streams.some((s) => s.pumping), Math.min(MAX_SETTLE_MS, 2 * worstCaseMs(longest))),
    );
  }

  carry(): NotifierCarry | undefined {
    if (!this.enabled) return undefined;
    // A batch in flight is sent again by the next run: a receiver may see it twice (same id).
    const pending: Record<string, NotifyEvent[]> = {};
    for (const s of this.streams) if (s.inFlight.length + s.queue.length > 0) pending[s.hook.name] = [...s.inFlight, ...s.queue];
    return { seq: this.seq, pending, failing: [...this.failing] };
  }

  runStarted(): void {
    const p = this.plan;
    const hosts = p.order.reduce((n, c) => n + (p.clusters[c]?.hosts.length ?? 0), 0);
    const gates = `gates: promote ${p.gates.promote.enabled ? 'on' : 'off'}, migrate ${p.gates.migrate.enabled ? 'on' : 'off'}`;
    const what = this.kind === 'recovery' ? `recovering every host to ${p.release}` : `deploying ${p.release} (from ${p.currentRelease})`;
    this.emit('run-started', `${what}: ${p.order.join(' → ')}, ${hosts} hosts${this.kind === 'recovery' ? '' : `; ${gates}`}`, {
      clusters: p.order.map((name) => ({ name, hosts: p.clusters[name]?.hosts.length ?? 0 })),
    });
  }

  gatePending(g: PendingGate, reminder = false): void {
    const expiry =
      g.onTimeout === 'reject' ? `rejected at ${g.deadline} without a decision` : `a reminder at ${g.deadline} if still undecided`;
    const waiting = reminder ? `is still waiting, since ${g.since},` : 'is waiting';
    this.emit(
      'gate-pending',
      `gate ${g.gate} ${waiting} for a decision on release ${this.plan.release} (${expiry})${g.approvers ? `; approvers: ${g.approvers.join(', ')}` : ''}`,
      {
        gate: { ...gateOf(g), commands: this.commandsFor(g.gate), ...(reminder ? { reminder } : {}) },
      },
    );
  }

  gateDecided(g: PendingGate, d: { approved: boolean; by: string; reason?: string }): void {
    const decision = d.approved ? 'approved' : 'rejected';
    this.emit('gate-decided', `gate ${g.gate} ${decision} by ${d.by}${d.reason ? `: ${d.reason}` : ''}`, {
      gate: gateOf(g),
      decision: { decision, by: d.by, ...(d.reason ? { reason: d.reason } : {}) },
    });
  }

  stepFailed(f: FailureRecord): void {
    const { at: _at, ...failure } = f;
    this.emit('step-failed', clip(f.message), { failure: { ...failure, message: clip(f.message) } });
  }

  rollbackStarted(why: string, clusters: string[], failure?: FailureRecord): void {
    const f = failure ? (({ at: _at, ...rest }) => ({ ...rest, message: clip(rest.message) }))(failure) : undefined;
    this.emit('rollback-started', clip(`rolling back ${clusters.join(', then ')} to ${this.plan.currentRelease}: ${why}`), {
      ...(f ? { failure: f } : {}),
      rollback: { why: clip(why), clusters: clusters.map((cluster) => ({ cluster, outcome: 'not-attempted', actions: [] })) },
    });
  }

  rollbackFinished(ok: boolean, reason: string, record: RollbackRecord | undefined): void {
    const done = record?.clusters.filter((c) => c.outcome === 'rolled-back').map((c) => c.cluster) ?? [];
    const text = ok
      ? `rollback finished: ${done.join(', ')} on ${this.plan.currentRelease} and live again`
      : `rollback did not finish: ${clip(reason)}`;
    this.emit('rollback-finished', text, {
      rollback: { why: clip(record?.why ?? ''), clusters: record?.clusters ?? [], ok, reason: clip(reason) },
    });
  }

  outcome(outcome: Outcome, reason: string): void {
    this.emit('outcome', clip(`${outcome}: ${reason}`), { outcome: { outcome, reason: clip(reason), migrated: this.status.migrated } });
  }

  private emit(event: NotifyEventName, text: string, extra: Partial<NotifyEvent>): void {
    const to = this.streams.filter((s) => !s.hook.events || s.hook.events.includes(event));
    if (to.length === 0) return;
    const info = workflowInfo();
    this.seq++;
    const e: NotifyEvent = {
      schema: NOTIFICATION_SCHEMA,
      id: `${info.workflowId}/${info.firstExecutionRunId}/${this.seq}`,
      seq: this.seq,
      event,
      at: new Date().toISOString(),
      kind: this.kind,
      environment: this.status.environment,
      workflowId: info.workflowId,
      runId: info.runId,
      release: this.status.release,
      fromRelease: this.status.fromRelease,
      text,
      ...extra,
    };
    for (const s of to) this.enqueue(s, [e]);
  }

  private enqueue(s: Stream, events: NotifyEvent[]): void {
    s.queue.push(...events);
    if (s.pumping) return;
    s.pumping = true;
    void this.pump(s);
  }

  /** One batch at a time per webhook, so its events arrive in the order they happened. */
  private async pump(s: Stream): Promise<void> {
    const { hook } = s;
    try {
      while (s.queue.length > 0) {
        s.inFlight = s.queue.splice(0, MAX_BATCH);
        try {
          // Not cancellable: a cancelled run still tells its webhooks about its rollback and outcome.
          const report = await CancellationScope.nonCancellable(() =>
            this.call(
              'notify',
              `Notify ${hook.name}: ${s.inFlight.map((e) => e.event).join(', ')}`,
              {
                webhooks: [hook],
                events: s.inFlight,
                ...(this.failing.has(hook.name) ? { failing: [hook.name] } : {}),
              },
              { startToCloseTimeout: s.inFlight.length * worstCaseMs(hook.timeoutSeconds) + 30_000 },
            ),
          );
          for (const r of report.webhooks) this.record(r.name, r.delivered, r.failed, r.lastError, r.lastFailed);
        } catch (err) {
          // The activity itself failed (its worker died twice): the batch counts as failed.
          const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
          this.record(hook.name, 0, s.inFlight.length, clip(`the notify activity failed: ${why}`).slice(0, 600), true);
        }
        s.inFlight = [];
      }
    } finally {
      s.pumping = false;
    }
  }

  private record(name: string, delivered: number, failed: number, lastError: string | undefined, lastFailed: boolean | undefined): void {
    const n = this.status.notifications?.find((x) => x.name === name);
    if (!n) return;
    n.delivered += delivered;
    n.failed += failed;
    if (lastError) {
      n.lastError = lastError;
      n.lastErrorAt = new Date().toISOString();
    }
    if (lastFailed) this.failing.add(name);
    else this.failing.delete(name);
  }

  private commandsFor(gate: string): GateCommands {
    const { namespace, workflowId, runId } = workflowInfo();
    const env = this.status.environment;
    const release = this.status.release;
    const ns = namespace === 'default' ? '' : ` --namespace ${shellWord(namespace)}`;
    const input = (reason: string) => `'${JSON.stringify({ gate, release, runId, by: 'YOUR-NAME', reason })}'`;
    return {
      approve: `bluegreen approve ${env} ${gate} --release ${release}${ns} --reason "..."`,
      reject: `bluegreen reject ${env} ${gate} --release ${release}${ns} --reason "..."`,
      approveWithTemporal: `temporal workflow update execute${ns} --workflow-id ${shellWord(workflowId)} --name approveGate --input ${input('looks good')}`,
      rejectWithTemporal: `temporal workflow update execute${ns} --workflow-id ${shellWord(workflowId)} --name rejectGate --input ${input('WHY')}`,
    };
  }
}

function gateOf(g: PendingGate): NonNullable<NotifyEvent['gate']> {
  return { name: g.gate, since: g.since, deadline: g.deadline, onTimeout: g.onTimeout, ...(g.approvers ? { approvers: g.approvers } : {}) };
}

/** Names Temporal accepts are plain words; anything else is single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9._:/-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
