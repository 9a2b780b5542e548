// What `plan check` says about the plan's webhooks. It runs where the operator is, which need not be
// where the worker runs, and the worker's environment is the one that counts: a webhook missing here
// is information, not a refusal. A run reports a webhook its worker lacks in its status, and goes on.
import { webhookDirectory, webhookEnvVar, type WebhookDirectory } from '../adapters/http/webhooks';
import type { Plan } from '../plan/schema';

export function describeWebhooks(plan: Plan, directory: WebhookDirectory = webhookDirectory(process.env)): string[] {
  return (plan.notify ?? []).map((w) => {
    const events = w.events ? w.events.join(', ') : 'every event';
    const found = directory.lookup(w.name);
    const where =
      'error' in found
        ? `not configured on this machine (${found.error.replace(/^webhook \S+ is not configured on this worker: /, '')}); the worker needs ${webhookEnvVar(w.name)} or the name in its BLUEGREEN_WEBHOOKS_FILE`
        : `configured on this machine (${found.source}); the worker needs the same`;
    return `notify ${w.name} (${w.format}, ${events}): ${where}`;
  });
}
