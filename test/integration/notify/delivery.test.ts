// The notify activity's parts against real local HTTP receivers: where URLs come from, what one POST
// reports, and how a batch is delivered (order, bounded attempts, formats). No URL in any message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, slackBody } from '../../../src/activities/notify';
import { NOTIFICATION_SCHEMA, type NotifyEvent } from '../../../src/activities/notify-types';
import { postWebhook, redact, webhookDirectory, webhookEnvVar, webhooksFromEnv } from '../../../src/adapters/http/webhooks';
import type { Webhook } from '../../../src/plan/schema';
import { deadUrl, startReceiver, type Receiver } from '../../support/webhook-receiver';

const receivers: Receiver[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

function event(seq: number, name: NotifyEvent['event'] = 'run-started', extra: Partial<NotifyEvent> = {}): NotifyEvent {
  return {
    schema: NOTIFICATION_SCHEMA,
    id: `bluegreen-t/r1/${seq}`,
    seq,
    event: name,
    at: '2026-11-27T22:00:00.000Z',
    kind: 'deployment',
    environment: 't',
    workflowId: 'bluegreen-t',
    runId: 'r1',
    release: 'v2',
    fromRelease: 'v1',
    text: `event ${seq} <b>&`,
    ...extra,
  };
}
const hook = (name: string, extra: Partial<Webhook> = {}): Webhook => ({ name, format: 'json', timeoutSeconds: 1, ...extra });

describe('webhook URLs come from the worker, never from the plan', () => {
  it('reads BLUEGREEN_WEBHOOK_<NAME> before the file, and the file again when it changes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-hooks-'));
    dirs.push(dir);
    const file = path.join(dir, 'hooks.yaml');
    fs.writeFileSync(file, 'ops-json: https://a.example/one\nteam-x: http://b.example/two\n');
    const d = webhookDirectory({ BLUEGREEN_WEBHOOK_OPS_SLACK: 'https://hooks.example/env', BLUEGREEN_WEBHOOKS_FILE: file });
    expect(webhookEnvVar('ops-slack')).toBe('BLUEGREEN_WEBHOOK_OPS_SLACK');
    expect(d.lookup('ops-slack')).toMatchObject({ source: 'BLUEGREEN_WEBHOOK_OPS_SLACK' });
    expect((d.lookup('ops-json') as { url: URL }).url.href).toBe('https://a.example/one');
    // Rewritten with another size: read again without a restart (JSON works too).
    fs.writeFileSync(file, JSON.stringify({ 'ops-json': 'https://a.example/rotated-url' }));
    expect((d.lookup('ops-json') as { url: URL }).url.href).toBe('https://a.example/rotated-url');
    expect(d.lookup('team-x')).toEqual({
      error: `webhook team-x is not configured on this worker: set BLUEGREEN_WEBHOOK_TEAM_X in its environment, or add team-x to ${file}`,
    });
  });

  it('never echoes a value it refuses: a bad URL, a file that does not parse', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-hooks-'));
    dirs.push(dir);
    const file = path.join(dir, 'hooks.yaml');
    fs.writeFileSync(file, 'ops: "https://hooks.example/SECRET-1\nother: [\n');
    const d = webhookDirectory({ BLUEGREEN_WEBHOOK_BAD: 'ftp://x.example/SECRET-2', BLUEGREEN_WEBHOOKS_FILE: file });
    const bad = d.lookup('bad');
    const unparsable = d.lookup('ops');
    expect(bad).toEqual({ error: 'BLUEGREEN_WEBHOOK_BAD is not an http:// or https:// URL (value not shown)' });
    expect(JSON.stringify(unparsable)).toMatch(/not valid JSON or YAML/);
    expect(JSON.stringify([bad, unparsable])).not.toMatch(/SECRET|hooks\.example/);
    expect(webhookDirectory({}).lookup('x')).toEqual({
      error:
        'webhook x is not configured on this worker: set BLUEGREEN_WEBHOOK_X in its environment, or name a file with BLUEGREEN_WEBHOOKS_FILE',
    });
  });

  it('redacts the URL, its parts and any other URL from a message', () => {
    const url = new URL('https://hooks.example:8443/services/T0/B0/XYZ?token=abc');
    expect(
      redact(
        'POST https://hooks.example:8443/services/T0/B0/XYZ?token=abc failed; hooks.example:8443 refused; see http://docs.example/x',
        url,
      ),
    ).toBe('POST <webhook> failed; <webhook> refused; see <url>');
  });
});

describe('one POST', () => {
  it('reports 2xx as delivered, 500 and timeouts as worth retrying, a dead port as refused, with no URL in the error', async () => {
    const ok = await receiver('ok');
    const failing = await receiver('fail');
    const slow = await receiver('slow', { slowMs: 5000 });
    const dead = await deadUrl();
    const post = (u: string, t = 2000) => postWebhook(new URL(u), '{"a":1}', { timeoutMs: t });
    expect(await post(ok.url)).toEqual({ ok: true, retryable: false });
    const r500 = await post(failing.url);
    expect(r500).toMatchObject({ ok: false, retryable: true });
    // The receiver echoed its path (the secret) in its answer: redacted.
    expect(r500.error).toBe('answered 500 Internal Server Error: boom at <webhook>');
    const t0 = Date.now();
    expect(await post(slow.url, 300)).toEqual({ ok: false, retryable: true, error: 'no answer within 0.3 s' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await post(dead)).toEqual({ ok: false, retryable: true, error: 'connection refused (ECONNREFUSED)' });
  });
});

describe('a batch of events', () => {
  it('reaches each webhook in order, as JSON or as a Slack body, only the events it asked for', async () => {
    const json = await receiver('ok');
    const slack = await receiver('ok');
    const env = { BLUEGREEN_WEBHOOK_OPS_JSON: json.url, BLUEGREEN_WEBHOOK_OPS_SLACK: slack.url };
    const events = [
      event(1),
      event(2, 'gate-pending', {
        gate: {
          name: 'promote-green',
          since: 'a',
          deadline: 'b',
          onTimeout: 'reject',
          commands: {
            approve: 'bluegreen approve t promote-green --release v2 --reason "..."',
            reject: 'R',
            approveWithTemporal: 'TA',
            rejectWithTemporal: 'TR',
          },
        },
      }),
      event(3, 'outcome'),
    ];
    const report = await deliver(
      { webhooks: [hook('ops-json'), hook('ops-slack', { format: 'slack', events: ['gate-pending', 'outcome'] })], events },
      webhooksFromEnv(env),
    );
    expect(report.webhooks).toEqual([
      { name: 'ops-json', delivered: 3, failed: 0, lastFailed: false },
      { name: 'ops-slack', delivered: 2, failed: 0, lastFailed: false },
    ]);
    expect(json.received.map((r) => [r.body.seq, r.body.event, r.body.webhook, r.body.schema])).toEqual([
      [1, 'run-started', 'ops-json', NOTIFICATION_SCHEMA],
      [2, 'gate-pending', 'ops-json', NOTIFICATION_SCHEMA],
      [3, 'outcome', 'ops-json', NOTIFICATION_SCHEMA],
    ]);
    const first = slack.received[0]?.body as { text: string; blocks: { text?: { text: string } }[] };
    expect(first.text).toBe('t: event 2 &lt;b&gt;&amp;');
    expect(first.blocks[0]?.text?.text).toContain('event 2 &lt;b&gt;&amp;');
    expect(JSON.stringify(first.blocks)).toContain('bluegreen approve t promote-green --release v2');
    expect(slackBody(event(4)).blocks.length).toBe(2);
  });

  it('gives a failing receiver 3 attempts for its first failed event, then 1 per event, and never throws', async () => {
    const failing = await receiver('fail');
    const dead = await deadUrl();
    const port = webhooksFromEnv({ BLUEGREEN_WEBHOOK_FAILING: failing.url, BLUEGREEN_WEBHOOK_DEAD: dead });
    const t0 = Date.now();
    const report = await deliver(
      { webhooks: [hook('failing'), hook('dead'), hook('missing')], events: [event(1), event(2), event(3)] },
      port,
    );
    const ms = Date.now() - t0;
    expect(failing.hits).toBe(3 + 1 + 1);
    expect(report.webhooks).toEqual([
      {
        name: 'failing',
        delivered: 0,
        failed: 3,
        lastFailed: true,
        lastError: expect.stringMatching(/^run-started: answered 500 Internal Server Error: boom at <webhook> \(1 attempt\)$/),
      },
      { name: 'dead', delivered: 0, failed: 3, lastFailed: true, lastError: 'run-started: connection refused (ECONNREFUSED) (1 attempt)' },
      {
        name: 'missing',
        delivered: 0,
        failed: 3,
        lastFailed: true,
        lastError:
          'webhook missing is not configured on this worker: set BLUEGREEN_WEBHOOK_MISSING in its environment, or name a file with BLUEGREEN_WEBHOOKS_FILE',
      },
    ]);
    // 1 s and 2 s between the first event's attempts; the rest at once.
    expect(ms).toBeGreaterThanOrEqual(3000);
    expect(ms).toBeLessThan(6000);
    expect(JSON.stringify(report)).not.toContain(failing.secret);

    // A webhook the workflow knows is failing gets one attempt per event from the start.
    const again = await deliver({ webhooks: [hook('failing')], events: [event(4)], failing: ['failing'] }, port);
    expect(again.webhooks[0]).toMatchObject({ failed: 1, lastError: expect.stringContaining('(1 attempt)') });
    expect(failing.hits).toBe(6);
  });
});
