// Notifications: what the workflow hands the `notify` activity, and what it reports back. Every
// field is safe in history: a webhook is known by its name; its URL stays in the worker.
import type { NotifyEventName, Webhook } from '../plan/schema';
import type { FailureRecord, Outcome, RollbackRecord } from '../workflows/state';

import { NOTIFICATION_SCHEMA } from '../workflows/notification-schema';

export { NOTIFICATION_SCHEMA };

/** The commands that decide a pending gate, ready to paste (README: Notifications). */
export interface GateCommands {
  approve: string;
  reject: string;
  /** The same decisions with the plain Temporal CLI (workflow Update approveGate / rejectGate). */
  approveWithTemporal: string;
  rejectWithTemporal: string;
}

/**
 * One event, as the workflow saw it. This is the JSON body a `format: json` webhook receives (plus
 * `webhook`); the field names are stable and documented in the README.
 */
export interface NotifyEvent {
  schema: typeof NOTIFICATION_SCHEMA;
  /** `<workflowId>/<first run id>/<seq>`: the same on a redelivery, so a receiver can drop duplicates. */
  id: string;
  /** 1, 2, 3... in the order the run emitted them, across continue-as-new. */
  seq: number;
  event: NotifyEventName;
  at: string;
  kind: 'deployment' | 'recovery';
  environment: string;
  workflowId: string;
  runId: string;
  release: string;
  fromRelease: string;
  /** One line for people. */
  text: string;
  /** run-started: the clusters in order and their hosts' count. */
  clusters?: { name: string; hosts: number }[];
  /** gate-pending and gate-decided. */
  gate?: {
    name: string;
    since: string;
    deadline: string;
    onTimeout: 'reject' | 'wait';
    approvers?: string[];
    commands?: GateCommands;
    /** gate-pending again: a gate with onTimeout "wait" passed its deadline and waits on. */
    reminder?: boolean;
  };
  /** gate-decided: who decided and why (by "timeout" when the gate expired with onTimeout: reject). */
  decision?: { decision: 'approved' | 'rejected'; by: string; reason?: string };
  /** step-failed, rollback-started: what stopped the run. */
  failure?: Omit<FailureRecord, 'at'>;
  /** rollback-started (clusters not yet attempted) and rollback-finished (how each went). */
  rollback?: { why: string; clusters: RollbackRecord['clusters']; ok?: boolean; reason?: string };
  /** outcome: how the run ended. */
  outcome?: { outcome: Outcome; reason: string; migrated: boolean };
}

export interface NotifyInput {
  webhooks: Webhook[];
  events: NotifyEvent[];
  /** Webhooks whose last event failed: one attempt per event until one gets through. */
  failing?: string[];
}

export interface WebhookReport {
  name: string;
  /** Events this webhook received (2xx). */
  delivered: number;
  /** Events given up on after their attempts (or because the webhook is not configured). */
  failed: number;
  /** The last failure, URL redacted: "gate-pending: answered 500 Internal Server Error (3 attempts)". */
  lastError?: string;
  /** The last event it tried failed (the next batch gives it one attempt per event). */
  lastFailed?: boolean;
}

export interface NotifyReport {
  webhooks: WebhookReport[];
}
