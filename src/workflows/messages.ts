// Messages an operator sends to a deployment run, and the shape of what it answers.
// Payloads are plain JSON so `temporal workflow signal --input '{...}'` works as well as our CLI.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { MESSAGE_NAMES as N } from './message-names';
import type { DeploymentStatus } from './state';

/** Who decided and why; every decision is recorded in the status. */
export interface Decider {
  by: string;
  reason?: string;
}

/**
 * A decision is bound to what the operator reviewed: the gate, the release, and (optionally) the run.
 * A decision typed for one run therefore cannot promote another run that reached the same gate.
 */
export interface GateDecision extends Decider {
  /** The gate this decision is for, e.g. "promote-green" or "migrate". */
  gate: string;
  /** The release the operator reviewed; required (runs started before this field existed excepted). */
  release?: string;
  /** If set, the decision only counts for this run (`bluegreen approve` always sets it). */
  runId?: string;
}

export const approveSignal = defineSignal<[GateDecision]>(N.approveSignal);
export const rejectSignal = defineSignal<[GateDecision]>(N.rejectSignal);
export const abortSignal = defineSignal<[Decider]>(N.abortSignal);
export const pauseSignal = defineSignal<[Decider]>(N.pauseSignal);
export const resumeSignal = defineSignal<[Decider]>(N.resumeSignal);

export const statusQuery = defineQuery<DeploymentStatus>(N.statusQuery);

/** Approve through an Update: rejected (with a reason, before reaching history) unless the gate is pending. */
export const approveUpdate = defineUpdate<DecisionAck, [GateDecision]>(N.approveUpdate);
export const rejectUpdate = defineUpdate<DecisionAck, [GateDecision]>(N.rejectUpdate);

export interface DecisionAck {
  gate: string;
  decision: 'approved' | 'rejected';
  by: string;
  release: string;
}
