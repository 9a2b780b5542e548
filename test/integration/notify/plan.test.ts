// The plan side of notifications: webhooks by name only, what `plan validate` shows, what
// `plan check` says about webhooks configured (or not) on the machine it runs on.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { webhookDirectory } from '../../../src/adapters/http/webhooks';
import { describeWebhooks } from '../../../src/cli/notify-check';
import { parsePlan } from '../../../src/plan/validate';
import { bg, tempDir, writePlan } from '../../support/cli';
import { FakeFleet } from '../../support/fake-fleet';

const fleet = new FakeFleet(['green-1', 'blue-1'], 'v1');

describe('notify in the plan', () => {
  it('is shown by plan validate, with defaults: JSON, every event, 5 s', async () => {
    const dir = tempDir('notify-plan');
    try {
      const file = writePlan(
        dir,
        'plan.json',
        fleet.plan({ notify: [{ name: 'ops-slack', format: 'slack', events: ['gate-pending', 'outcome'] }, { name: 'audit' }] }),
      );
      const r = await bg(['plan', 'validate', file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('notify: ops-slack (slack: gate-pending, outcome), audit (json)');
      expect(parsePlan(JSON.parse(fs.readFileSync(file, 'utf8'))).notify?.[1]).toEqual({
        name: 'audit',
        format: 'json',
        timeoutSeconds: 5,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a URL without printing it', async () => {
    const dir = tempDir('notify-plan');
    try {
      const secret = 'https://hooks.slack.com/services/T0AAA/B0BBB/zzzSECRETzzz';
      const file = writePlan(dir, 'plan.json', { ...fleet.plan(), notify: [{ name: 'ops', url: secret }, { name: secret }] });
      const r = await bg(['plan', 'validate', file]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain('plan.notify[0].url: expected no field "url" here (a webhook\'s URL is a secret');
      expect(r.stdout + r.stderr).toContain('plan.notify[1].name: expected a webhook name');
      expect(r.stdout + r.stderr).not.toMatch(/SECRET|hooks\.slack/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('plan check says which webhooks this machine knows, as information for the worker', () => {
    const plan = parsePlan(
      fleet.plan({
        notify: [
          { name: 'ops-slack', format: 'slack' },
          { name: 'audit', events: ['outcome'] },
        ],
      }),
    );
    const lines = describeWebhooks(plan, webhookDirectory({ BLUEGREEN_WEBHOOK_OPS_SLACK: 'https://hooks.example/secret-path' }));
    expect(lines).toEqual([
      'notify ops-slack (slack, every event): configured on this machine (BLUEGREEN_WEBHOOK_OPS_SLACK); the worker needs the same',
      'notify audit (json, outcome): not configured on this machine (set BLUEGREEN_WEBHOOK_AUDIT in its environment, or name a file with BLUEGREEN_WEBHOOKS_FILE); the worker needs BLUEGREEN_WEBHOOK_AUDIT or the name in its BLUEGREEN_WEBHOOKS_FILE',
    ]);
  });
});
