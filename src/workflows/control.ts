// Operator control of a run: approvals at gates, abort, pause/resume. Every decision is recorded
// with who and why; decisions that do not apply are recorded as ignored, never silently dropped.
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Plan, GateConfig } from '../plan/schema';
import {
  abortSignal,
  approveSignal,
  approveUpdate,
  pauseSignal,
  rejectSignal,
  rejectUpdate,
  resumeSignal,
  statusQuery,
  type Decider,
  type GateDecision,
} from './messages';
import type { DeploymentStatus, PendingGate } from './state';

const MAX_DECISIONS = 200;

/**
 * A run waiting at a gate continues as new past this many events: signals can arrive for days
 * (each adds events), and Temporal caps a run's history at 51,200 events. The forward steps of even
 * a 2x500 deployment stay far below it (test/integration/deploy/scale.test.ts).
 */
export const CONTINUE_AS_NEW_AT_EVENTS = 1000;

export class AbortRequested extends Error {
  constructor(
    readonly by: string,
    readonly why: string,
  ) {
    super(`aborted by ${by}${why ? `: ${why}` : ''}`);
    this.name = 'AbortRequested';
  }
}

export class GateRejected extends Error {
  constructor(
    readonly gate: string,
    message: string,
  ) {
    super(message);
    this.name = 'GateRejected';
  }
}

/** Told when a gate starts waiting and when it is decided (notifications); absent: nobody is told. */
export interface GateEvents {
  /** `reminder`: a gate with onTimeout "wait" passed its deadline and waits on. */
  gatePending(pending: PendingGate, reminder?: boolean): void;
  gateDecided(pending: PendingGate, decision: { approved: boolean; by: string; reason?: string }): void;
  /** Waits (bounded) for deliveries in flight, before the run continues as new. */
  settle(): Promise<void>;
}

export class Control {
  private verdict?: { gate: string; approved: boolean; by: string; reason?: string };
  private abortBy?: Decider;
  private rollingBack = false;
  /** Runs started before decisions named their release accept decisions without one (replay). */
  private readonly decisionsNameRelease: boolean;

  /**
   * Continues the run as a new one waiting at `gate` (never returns). Set by the workflow, which
   * knows what the new run needs to resume.
   */
  carryOn?: (gate: string) => Promise<never>;

  /** Set by the workflow when the plan has webhooks. */
  events?: GateEvents;

  constructor(
    private readonly plan: Plan,
    private readonly status: DeploymentStatus,
    /** The ids of the earlier runs of this deployment (before it continued as new): decisions naming them still apply. */
    readonly earlierRunIds: string[] = [],
  ) {
    this.decisionsNameRelease = patched('decisions-name-release');
    setHandler(statusQuery, () => this.status);
    setHandler(approveSignal, (d) => this.decideBySignal(d, true));
    setHandler(rejectSignal, (d) => this.decideBySignal(d, false));
    setHandler(approveUpdate, (d) => this.decide(d, true), { validator: (d) => this.assertApplies(d) });
    setHandler(rejectUpdate, (d) => this.decide(d, false), { validator: (d) => this.assertApplies(d) });
    setHandler(abortSignal, (d) => {
      this.record('abort', d);
      this.abortBy ??= d;
      this.status.abortRequested = true;
    });
    setHandler(pauseSignal, (d) => {
      this.record('pause', d);
      this.status.paused = true;
    });
    setHandler(resumeSignal, (d) => {
      this.record('resume', d);
      this.status.paused = false;
    });
  }

  get aborted(): boolean {
    return this.abortBy !== undefined;
  }

  /** From here on abort and pause no longer apply: the run is already on its way back. */
  enterRollback(): void {
    this.rollingBack = true;
  }

  /**
   * Runs a step's long work so that an abort need not wait for all of it: the abort cancels the
   * work's scope (a deploy then takes no new host and lets the ones in flight finish) and surfaces as
   * AbortRequested. A cancellation of the run itself passes through unchanged.
   */
  async interruptible<T>(work: () => Promise<T>): Promise<T> {
    if (this.rollingBack) return work();
    const scope = new CancellationScope();
    let settled = false;
    // The watch is itself cancelled when the run is (then the work's scope is too): nothing to do.
    condition(() => settled || this.aborted).then(
      () => !settled && scope.cancel(),
      () => undefined,
    );
    try {
      return await scope.run(work);
    } catch (err) {
      if (this.abortBy && isCancellation(err) && !CancellationScope.current().consideredCancelled) {
        throw new AbortRequested(this.abortBy.by, this.abortBy.reason ?? '');
      }
      throw err;
    } finally {
      settled = true;
    }
  }

  /** A safe point between steps: honours pause, and turns an abort request into AbortRequested. */
  async safePoint(): Promise<void> {
    if (this.rollingBack) return;
    if (this.status.paused && !this.aborted) {
      setCurrentDetails(
        `Paused before ${this.status.step}${this.status.cluster ? ` of ${this.status.cluster}` : ''}; send resume to go on`,
      );
      this.status.waitingFor = 'resume';
      await condition(() => !this.status.paused || this.aborted);
      this.status.waitingFor = undefined;
    }
    if (this.abortBy) throw new AbortRequested(this.abortBy.by, this.abortBy.reason ?? '');
  }

  /**
   * Waits durably for a decision on the gate; throws GateRejected on reject or expiry (if the plan
   * says so). A run that continued as new while waiting finds its gate still pending, with the
   * same deadline, and goes on waiting.
   */
  async gate(gate: string, cfg: GateConfig): Promise<{ by: string; reason?: string }> {
    const now = Date.now();
    // A run that continued as new finds its gate pending already, and has said so before.
    const resumed = this.status.pendingGate?.gate === gate;
    const pending: PendingGate =
      resumed && this.status.pendingGate
        ? this.status.pendingGate
        : {
            gate,
            since: new Date(now).toISOString(),
            deadline: new Date(now + cfg.timeoutSeconds * 1000).toISOString(),
            timeoutSeconds: cfg.timeoutSeconds,
            onTimeout: cfg.onTimeout,
            approvers: cfg.approvers,
          };
    this.status.pendingGate = pending;
    this.status.waitingFor = `approval of gate ${gate}`;
    if (!resumed) this.events?.gatePending(pending);
    setCurrentDetails(
      `Waiting for approval of gate **${gate}** of release ${this.plan.release} (Update approveGate/rejectGate or signal approve/reject with {"gate":"${gate}","release":"${this.plan.release}","by":...})`,
    );
    let carryingOn = false;
    try {
      for (;;) {
        const remaining = Math.max(1, Date.parse(pending.deadline) - Date.now());
        const long = () => this.carryOn !== undefined && historyIsLong();
        const decided = await condition(() => this.verdict?.gate === gate || this.aborted || long(), remaining);
        if (this.abortBy) throw new AbortRequested(this.abortBy.by, this.abortBy.reason ?? '');
        if (this.verdict?.gate === gate) {
          const v = this.verdict;
          this.events?.gateDecided(pending, v);
          if (!v.approved) throw new GateRejected(gate, `gate ${gate} rejected by ${v.by}${v.reason ? `: ${v.reason}` : ''}`);
          return { by: v.by, reason: v.reason };
        }
        if (decided && long() && this.carryOn) {
          if (this.events) {
            // Deliveries in flight get a bounded moment to report back first; a decision or an
            // abort that arrives meanwhile is handled here, not lost to the new run.
            await this.events.settle();
            if (this.verdict?.gate === gate || this.aborted) continue;
          }
          carryingOn = true;
          await condition(allHandlersFinished);
          await this.carryOn(gate);
        }
        if (decided) continue;
        if (cfg.onTimeout === 'reject') {
          this.record('reject', { by: 'timeout', reason: `no decision within ${cfg.timeoutSeconds} s` }, gate);
          this.events?.gateDecided(pending, {
            approved: false,
            by: 'timeout',
            reason: `no decision within ${cfg.timeoutSeconds} s (onTimeout: reject)`,
          });
          throw new GateRejected(gate, `gate ${gate} expired after ${cfg.timeoutSeconds} s without a decision (onTimeout: reject)`);
        }
        this.record(
          'expired',
          { by: 'timeout', reason: `no decision within ${cfg.timeoutSeconds} s` },
          gate,
          'onTimeout: wait, so the gate keeps waiting',
        );
        pending.deadline = new Date(Date.parse(pending.deadline) + cfg.timeoutSeconds * 1000).toISOString();
        this.events?.gatePending(pending, true);
      }
    } finally {
      // The new run carries the pending gate on; this one ends here.
      if (!carryingOn) {
        this.status.pendingGate = undefined;
        this.status.waitingFor = undefined;
        this.verdict = undefined;
      }
    }
  }

  /** Why a decision does not apply, or undefined when it does. */
  private whyNot(d: GateDecision): string | undefined {
    if (!d || typeof d.gate !== 'string' || typeof d.by !== 'string' || d.by.trim() === '')
      return 'a decision needs {"gate": "...", "by": "..."}';
    // Bounded and printable: these values end up in messages, the status and the history.
    for (const [field, value, max] of [
      ['gate', d.gate, 100],
      ['by', d.by, 100],
      ['release', d.release, 100],
      ['runId', d.runId, 100],
      ['reason', d.reason, 500],
    ] as const) {
      if (value === undefined) continue;
      if (typeof value !== 'string') return `a decision's "${field}" must be a string`;
      if (value.length > max) return `a decision's "${field}" must be at most ${max} characters`;
      if (field !== 'reason' && /[\u0000-\u001f\u007f]/.test(value)) return `a decision's "${field}" must not contain control characters`;
    }
    const pending = this.status.pendingGate;
    if (!pending) return `gate ${d.gate} is not pending: no gate is pending now`;
    if (pending.gate !== d.gate) return `gate ${d.gate} is not pending: the pending gate is ${pending.gate}`;
    if (d.runId && d.runId !== workflowInfo().runId && !this.earlierRunIds.includes(d.runId))
      return `the decision names run ${d.runId}, not this run`;
    if (d.release !== undefined && d.release !== this.plan.release)
      return `the decision is for release ${d.release}, but this run deploys ${this.plan.release}`;
    if (d.release === undefined && this.decisionsNameRelease)
      return `a decision must name the release it is for ("release": "..."), so that it cannot promote a run nobody reviewed; this run deploys ${this.plan.release}`;
    if (pending.approvers && !pending.approvers.includes(d.by))
      return `${d.by} may not decide gate ${d.gate} (approvers: ${pending.approvers.join(', ')})`;
    return undefined;
  }

  private assertApplies(d: GateDecision): void {
    const why = this.whyNot(d);
    if (why) throw new Error(why);
  }

  private decideBySignal(d: GateDecision, approved: boolean): void {
    const why = this.whyNot(d);
    if (why) {
      this.record('ignored', d, d?.gate, `${approved ? 'approve' : 'reject'} ignored: ${why}`);
      return;
    }
    this.decide(d, approved);
  }

  private decide(d: GateDecision, approved: boolean) {
    this.verdict = { gate: d.gate, approved, by: d.by, reason: d.reason };
    this.record(approved ? 'approve' : 'reject', d, d.gate);
    return { gate: d.gate, decision: approved ? ('approved' as const) : ('rejected' as const), by: d.by, release: this.plan.release };
  }

  private record(kind: DeploymentStatus['decisions'][number]['kind'], d: Partial<GateDecision>, gate?: string, note?: string) {
    // A flood of signals must not grow the status (and every query answer) without bound: keep the
    // first decisions and the most recent ones.
    if (this.status.decisions.length >= MAX_DECISIONS) this.status.decisions.splice(MAX_DECISIONS / 2, 1);
    this.status.decisions.push({
      kind,
      gate,
      ...(typeof d?.release === 'string' ? { release: d.release.slice(0, 100) } : {}),
      by: typeof d?.by === 'string' ? d.by.slice(0, 100) : 'unknown',
      reason: typeof d?.reason === 'string' ? d.reason.slice(0, 500) : undefined,
      at: new Date().toISOString(),
      note,
    });
  }
}

function historyIsLong(): boolean {
  const info = workflowInfo();
  return info.historyLength >= CONTINUE_AS_NEW_AT_EVENTS || info.continueAsNewSuggested;
}
