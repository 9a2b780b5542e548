// The `notify` activity's work: deliver a run's events, in order, to each named webhook. Bounded:
// each POST has the webhook's timeout, an event gets 3 attempts (1 s, 2 s apart), and once a webhook
// has failed an event, the rest of the batch gets one attempt each, so a receiver that is down or
// slow costs seconds, not minutes. It never throws for a receiver: failures are counted and reported.
import type { Webhook } from '../plan/schema';
import { sleep } from '../sleep';
import type { WebhookPort } from '../ports/webhooks';
import { NOTIFICATION_SCHEMA, type NotifyEvent, type NotifyInput, type NotifyReport, type WebhookReport } from './notify-types';

export const NOTIFY_ATTEMPTS = 3;
const BACKOFF_MS = [1000, 2000];

/** The port's messages carry no URL; this is the second line, so a report never can. */
function noUrls(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, '<url>');
}

/** The longest one event can take for one webhook: every attempt times out, plus the pauses. */
export function worstCaseEventMs(timeoutSeconds: number): number {
  return NOTIFY_ATTEMPTS * timeoutSeconds * 1000 + BACKOFF_MS.reduce((a, b) => a + b, 0);
}

export function wants(hook: Webhook, event: NotifyEvent['event']): boolean {
  return !hook.events || hook.events.includes(event);
}

/** Webhooks are independent (one slow receiver does not hold up another); events go in order. */
export async function deliver(input: NotifyInput, port: WebhookPort, signal?: AbortSignal): Promise<NotifyReport> {
  const failing = new Set(input.failing ?? []);
  const webhooks = await Promise.all(
    input.webhooks.map((hook) =>
      deliverTo(
        hook,
        input.events.filter((e) => wants(hook, e.event)),
        port,
        failing.has(hook.name),
        signal,
      ),
    ),
  );
  return { webhooks };
}

async function deliverTo(
  hook: Webhook,
  events: NotifyEvent[],
  port: WebhookPort,
  wasFailing: boolean,
  signal?: AbortSignal,
): Promise<WebhookReport> {
  const report: WebhookReport = { name: hook.name, delivered: 0, failed: 0 };
  if (events.length === 0) return report;
  const found = port.lookup(hook.name);
  if ('error' in found) {
    report.failed = events.length;
    report.lastError = noUrls(found.error);
    report.lastFailed = true;
    return report;
  }
  let struggling = wasFailing;
  for (const event of events) {
    const body = JSON.stringify(hook.format === 'slack' ? slackBody(event) : { ...event, webhook: hook.name });
    const attempts = struggling ? 1 : NOTIFY_ATTEMPTS;
    let error: string | undefined;
    let tried = 0;
    for (let a = 1; a <= attempts && !signal?.aborted; a++) {
      // A stop (worker shutdown) ends the wait early; post then returns at once, not delivered.
      if (a > 1) await sleep(BACKOFF_MS[a - 2] ?? 2000, signal).catch(() => undefined);
      tried = a;
      const r = await port.post(found.url, body, { timeoutMs: hook.timeoutSeconds * 1000, signal });
      error = r.ok ? undefined : noUrls(r.error ?? 'failed');
      if (r.ok || !r.retryable) break;
    }
    if (error === undefined && tried > 0) {
      report.delivered++;
      struggling = false;
    } else {
      report.failed++;
      report.lastError = `${event.event}: ${error ?? 'not sent: the worker is shutting down'} (${tried} attempt${tried === 1 ? '' : 's'})`;
      struggling = true;
    }
  }
  report.lastFailed = struggling;
  return report;
}

// Slack: `text` is the notification's fallback (and all a plain incoming webhook needs); blocks
// add the details. mrkdwn needs &, < and > escaped; a section holds at most 3,000 characters.
const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const cut = (s: string, max = 2900) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text: cut(text) } });

export function slackBody(e: NotifyEvent): { text: string; blocks: unknown[] } {
  const blocks: unknown[] = [
    section(`*${esc(e.environment)}* · ${esc(e.fromRelease)} → ${esc(e.release)} · ${esc(e.event)}\n${esc(e.text)}`),
  ];
  const c = e.gate?.commands;
  if (c) {
    blocks.push(section(`Approve:\n\`\`\`${esc(c.approve)}\`\`\`\nReject:\n\`\`\`${esc(c.reject)}\`\`\``));
    blocks.push(section(`With the Temporal CLI:\n\`\`\`${esc(c.approveWithTemporal)}\`\`\`\n\`\`\`${esc(c.rejectWithTemporal)}\`\`\``));
  }
  const detail = e.outcome?.reason ?? e.rollback?.reason ?? e.failure?.message;
  if (detail && detail !== e.text) blocks.push(section(esc(detail)));
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: esc(`${e.workflowId} · run ${e.runId} · ${e.at} · ${NOTIFICATION_SCHEMA} #${e.seq}`) }],
  });
  // Escaped in `text` too: an operator's reason such as "<!channel>" must not ping a whole channel.
  return { text: cut(esc(`${e.environment}: ${e.text}`), 3000), blocks };
}
