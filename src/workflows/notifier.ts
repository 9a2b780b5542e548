// Notifications from the workflow's side: the run's events, built from its status, handed to the
// `notify` activity in order, one batch at a time, off the critical path. Nothing waits for a
// delivery except the end of the run (and continue-as-new), and only for a bounded time. A plan
// without `notify` gets no events, no activity and no timer: its commands are exactly as before.
import { CancellationScope, condition, workflowInfo } from '@temporalio/workflow';
import { NOTIFICATION_SCHEMA, type GateCommands, type NotifyEvent, type NotifyReport } from '../activities/notify-types';
import type { NotifyEventName, Plan, Webhook } from '../plan/schema';
import type { Call } from './activity-calls';
import type { GateEvents } from './control';
import type { DeploymentStatus, FailureRecord, Outcome, PendingGate, RollbackRecord } from './state';

/** Events handed to one activity call at most (a long queue goes in several, still in order). */
const MAX_BATCH = 20;
/** An event's worst case per webhook, as notify.ts bounds it: 3 attempts and 1 + 2 s between them. */
const worstCaseMs = (timeoutSeconds: number) => 3 * timeoutSeconds * 1000 + 3000;
const MAX_TEXT = 2000;
const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

/** What a run that continues as new hands on: the numbering and the events not yet reported back. */
export interface NotifierCarry {
  seq: number;
  pending: NotifyEvent[];
  failing: string[];
}

export class Notifier implements GateEvents {
  private readonly hooks: Webhook[];
  private queue: NotifyEvent[] = [];
  private inFlight: NotifyEvent[] = [];
  private pumping = false;
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
    this.seq = carried?.seq ?? 0;
    this.failing = new Set(carried?.failing ?? []);
    if (this.hooks.length === 0) return;
    status.notifications ??= this.hooks.map((h) => ({ name: h.name, delivered: 0, failed: 0 }));
    if (carried?.pending.length) this.enqueue(carried.pending);
  }

  get enabled(): boolean {
    return this.hooks.length > 0;
  }

  /**
   * Waits until every event emitted so far has been handed over and reported back, for at most
   * twice the worst case of one event: the batch in flight, then the last one. A run that ends
   * must not lose its outcome notification; it must not hang on a receiver either.
   */
  async settle(): Promise<void> {
    if (!this.enabled || !this.pumping) return;
    const longest = Math.max(...this.hooks.map((h) => h.timeoutSeconds));
    await CancellationScope.nonCancellable(() => condition(() => !this.pumping, 2 * worstCaseMs(longest)));
  }

  carry(): NotifierCarry | undefined {
    if (!this.enabled) return undefined;
    // The batch in flight is sent again by the next run: a receiver may see it twice (same id).
    return { seq: this.seq, pending: [...this.inFlight, ...this.queue], failing: [...this.failing] };
  }

  runStarted(): void {
    const p = this.plan;
    const hosts = p.order.reduce((n, c) => n + (p.clusters[c]?.hosts.length ?? 0), 0);
    const gates = `gates: promote ${p.gates.promote.enabled ? 'on' : 'off'}, migrate ${p.gates.migrate.enabled ? 'on' : 'off'}`;
    this.emit('run-started', `deploying ${p.release} (from ${p.currentRelease}): ${p.order.join(' → ')}, ${hosts} hosts; ${gates}`, {
      clusters: p.order.map((name) => ({ name, hosts: p.clusters[name]?.hosts.length ?? 0 })),
    });
  }

  gatePending(g: PendingGate): void {
    const expiry = g.onTimeout === 'reject' ? `rejected at ${g.deadline} without a decision` : `reminder at ${g.deadline}; it waits on`;
    this.emit('gate-pending', `gate ${g.gate} is waiting for a decision on release ${this.plan.release} (${expiry})${g.approvers ? `; approvers: ${g.approvers.join(', ')}` : ''}`, {
      gate: { ...gateOf(g), commands: this.commandsFor(g.gate) },
    });
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
    if (!this.hooks.some((h) => !h.events || h.events.includes(event))) return;
    const info = workflowInfo();
    this.seq++;
    this.enqueue([
      {
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
      },
    ]);
  }

  private enqueue(events: NotifyEvent[]): void {
    this.queue.push(...events);
    if (this.pumping) return;
    this.pumping = true;
    void this.pump();
  }

  /** One batch at a time, so events reach each webhook in the order they happened. */
  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        this.inFlight = this.queue.splice(0, MAX_BATCH);
        const longest = Math.max(...this.hooks.map((h) => h.timeoutSeconds));
        const names = this.inFlight.map((e) => e.event).join(', ');
        try {
          // Not cancellable: a cancelled run still tells its webhooks about its rollback and outcome.
          const report = await CancellationScope.nonCancellable(() =>
            this.call('notify', `Notify ${this.hooks.map((h) => h.name).join(', ')}: ${names}`, {
              webhooks: this.hooks,
              events: this.inFlight,
              ...(this.failing.size > 0 ? { failing: [...this.failing] } : {}),
            }, { startToCloseTimeout: this.inFlight.length * worstCaseMs(longest) + 30_000 }),
          );
          this.record(report);
        } catch (err) {
          this.recordActivityFailure(err);
        }
        this.inFlight = [];
      }
    } finally {
      this.pumping = false;
    }
  }

  private record(report: NotifyReport): void {
    for (const r of report.webhooks) {
      const s = this.status.notifications?.find((n) => n.name === r.name);
      if (!s) continue;
      s.delivered += r.delivered;
      s.failed += r.failed;
      if (r.lastError) {
        s.lastError = r.lastError;
        s.lastErrorAt = new Date().toISOString();
      }
      if (r.lastFailed) this.failing.add(r.name);
      else this.failing.delete(r.name);
    }
  }

  /** The activity itself failed (its worker died twice): every event of the batch counts as failed. */
  private recordActivityFailure(err: unknown): void {
    const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    for (const h of this.hooks) {
      const s = this.status.notifications?.find((n) => n.name === h.name);
      const missed = this.inFlight.filter((e) => !h.events || h.events.includes(e.event)).length;
      if (!s || missed === 0) continue;
      s.failed += missed;
      s.lastError = clip(`the notify activity failed: ${why}`).slice(0, 600);
      s.lastErrorAt = new Date().toISOString();
    }
  }

  private commandsFor(gate: string): GateCommands {
    const { namespace, workflowId, runId } = workflowInfo();
    const env = this.status.environment;
    const release = this.status.release;
    const ns = namespace === 'default' ? '' : ` --namespace ${shellWord(namespace)}`;
    const input = (reason: string) =>
      `'${JSON.stringify({ gate, release, runId, by: 'YOUR-NAME', reason })}'`;
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
  return /^[A-Za-z0-9._:\/-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
