// Messages an operator sends to a deployment run, and the shape of what it answers.
// Payloads are plain JSON so `temporal workflow signal --input '{...}'` works as well as our CLI.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentStatus } from './state';

/** Who decided and why; every decision is recorded in the status. */
export interface Decider {
  by: string;
  reason?: string;
}

export interface GateDecision extends Decider {
  /** The gate this decision is for, e.g. "promote-green" or "migrate". */
  gate: string;
  /** If set, the decision only counts for this run (guards against a stale approval). */
  runId?: string;
}

export const approveSignal = defineSignal<[GateDecision]>('approve');
export const rejectSignal = defineSignal<[GateDecision]>('reject');
export const abortSignal = defineSignal<[Decider]>('abort');
export const pauseSignal = defineSignal<[Decider]>('pause');
export const resumeSignal = defineSignal<[Decider]>('resume');

export const statusQuery = defineQuery<DeploymentStatus>('status');

/** Approve through an Update: rejected (with a reason, before reaching history) unless the gate is pending. */
export const approveUpdate = defineUpdate<DecisionAck, [GateDecision]>('approveGate');
export const rejectUpdate = defineUpdate<DecisionAck, [GateDecision]>('rejectGate');

export interface DecisionAck {
  gate: string;
  decision: 'approved' | 'rejected';
  by: string;
}
