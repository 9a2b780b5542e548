// Notifications on the real stack: a real Temporal server, a worker with the real notify activity
// posting to real local HTTP receivers, and the in-memory fleet (notifications touch no host).
import { execFile } from 'node:child_process';
import { WorkflowFailedError } from '@temporalio/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { NotifyEvent } from '../../../src/activities/notify-types';
import { webhooksFromEnv } from '../../../src/adapters/http/webhooks';
import type { PlanInput } from '../../../src/plan/schema';
import { blueGreenDeployment, recoverFleet } from '../../../src/workflows';
import { approveUpdate, statusQuery } from '../../../src/workflows/messages';
import type { DeploymentResult, DeploymentStatus } from '../../../src/workflows/state';
import { BIN, REPO, bg, uniqueEnv } from '../../support/cli';
import { until } from '../../support/wait';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { expectNowhere, historyForms } from '../../support/history';
import { deadUrl, startReceiver, type Receiver } from '../../support/webhook-receiver';

const temporal = useTemporal();
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
const gates = (enabled: boolean): PlanInput['gates'] => ({
  promote: { enabled, timeoutSeconds: 600, onTimeout: 'reject' },
  migrate: { enabled: false },
});

/** Runs a deployment with a worker whose environment names the webhooks; returns the run's handle. */
async function deployment(
  fleet: FakeFleet,
  plan: PlanInput,
  env: Record<string, string>,
  fn: (h: { workflowId: string; start(): Promise<void> }) => Promise<void>,
) {
  const taskQueue = uniqueId('notify');
  const workflowId = `bluegreen-${plan.environment}`;
  const activities = createActivities({ ...fleet.deps(), webhooks: webhooksFromEnv(env) });
  await withWorker(taskQueue, activities, () =>
    fn({
      workflowId,
      start: async () => {
        await temporal.client.workflow.start(blueGreenDeployment, {
          taskQueue,
          workflowId,
          args: [plan],
          workflowExecutionTimeout: '5 minutes',
        });
      },
    }),
  );
}

async function resultOf(workflowId: string): Promise<DeploymentResult> {
  try {
    return await temporal.client.workflow.getHandle(workflowId).result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) return (err.cause as unknown as { details: DeploymentResult[] }).details[0] as DeploymentResult;
    throw err;
  }
}
const status = (workflowId: string) => temporal.client.workflow.getHandle(workflowId).query(statusQuery) as Promise<DeploymentStatus>;
const bodies = (r: Receiver) => r.received.map((x) => x.body as unknown as NotifyEvent);
const arrived = (r: Receiver, event: string, gate?: string) =>
  until(
    `${event} ${gate ?? ''} at the receiver`,
    async () => bodies(r).find((b) => b.event === event && (!gate || b.gate?.name === gate)),
    30_000,
  );

function shell(cmd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', cmd], { cwd: REPO, timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

describe('notifications of a run', () => {
  it('arrive in order with their content, and the commands a gate-pending names decide the gate', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const json = await receiver('ok');
    const slack = await receiver('ok');
    const plan = fleet.plan({
      environment: uniqueEnv('notify'),
      gates: gates(true),
      notify: [{ name: 'ops-json' }, { name: 'ops-slack', format: 'slack', events: ['gate-pending', 'outcome'] }],
    });
    const workerEnv = { BLUEGREEN_WEBHOOK_OPS_JSON: json.url, BLUEGREEN_WEBHOOK_OPS_SLACK: slack.url };
    await deployment(fleet, plan, workerEnv, async ({ workflowId, start }) => {
      await start();
      // The first gate, decided with the bluegreen command exactly as the notification gives it.
      const g1 = await arrived(json, 'gate-pending', 'promote-green');
      const approve = g1.gate?.commands?.approve ?? '';
      expect(approve).toBe(`bluegreen approve ${plan.environment} promote-green --release v2 --reason "..."`);
      const viaCli = await shell(`'${process.execPath}' '${BIN}' ${approve.replace(/^bluegreen /, '')} --by dana --yes`, {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: 'default',
      });
      expect(viaCli.code, viaCli.out).toBe(0);
      // The second, with the Temporal CLI command (only the name is filled in, and the address).
      const g2 = await arrived(json, 'gate-pending', 'promote-blue');
      const temporalCmd = (g2.gate?.commands?.approveWithTemporal ?? '').replace('YOUR-NAME', 'carol');
      expect(temporalCmd).toMatch(
        new RegExp(
          `^temporal workflow update execute --workflow-id ${workflowId} --name approveGate --input '\\{"gate":"promote-blue","release":"v2","runId":"[0-9a-f-]+","by":"carol","reason":"looks good"\\}'$`,
        ),
      );
      const viaTemporal = await shell(
        `${temporalCmd.replace(/^temporal /, `'${inject('temporalCliPath')}' `)} --address ${inject('temporalAddress')}`,
      );
      expect(viaTemporal.code, viaTemporal.out).toBe(0);

      const result = await resultOf(workflowId);
      expect(result.outcome).toBe('succeeded');
      // The end of the run waited for the outcome's delivery: it is there when the result is.
      const events = bodies(json);
      expect(
        events.map(
          (e) => `${e.seq} ${e.event}${e.gate ? ` ${e.gate.name}` : ''}${e.decision ? ` ${e.decision.decision} by ${e.decision.by}` : ''}`,
        ),
      ).toEqual([
        '1 run-started',
        '2 gate-pending promote-green',
        '3 gate-decided promote-green approved by dana',
        '4 gate-pending promote-blue',
        '5 gate-decided promote-blue approved by carol',
        '6 outcome',
      ]);
      const runId = (await temporal.client.workflow.getHandle(workflowId).describe()).runId;
      for (const e of events) {
        expect(e).toMatchObject({
          schema: 'bluegreen.notification/v1',
          kind: 'deployment',
          environment: plan.environment,
          workflowId,
          runId,
          release: 'v2',
          fromRelease: 'v1',
          webhook: 'ops-json',
        });
        expect(e.id).toBe(`${workflowId}/${runId}/${e.seq}`);
      }
      expect(events[0]?.clusters).toEqual([
        { name: 'green', hosts: 2 },
        { name: 'blue', hosts: 2 },
      ]);
      expect(events[0]?.text).toBe('deploying v2 (from v1): green → blue, 4 hosts; gates: promote on, migrate off');
      expect(events[4]?.decision).toEqual({ decision: 'approved', by: 'carol', reason: 'looks good' });
      expect(events[5]?.outcome).toEqual({ outcome: 'succeeded', reason: 'every cluster runs v2 and is live', migrated: false });
      // Slack: only its events, as {text, blocks}.
      const s = slack.received.map((x) => x.body as { text: string; blocks: unknown[] });
      expect(s.map((b) => b.text)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${plan.environment}: gate promote-green is waiting for a decision on release v2 \\(rejected at .* without a decision\\)$`,
          ),
        ),
        expect.stringMatching(/: gate promote-blue is waiting/),
        `${plan.environment}: succeeded: every cluster runs v2 and is live`,
      ]);
      expect(JSON.stringify(s[0]?.blocks)).toContain(`bluegreen approve ${plan.environment} promote-green --release v2`);
      expect(result.notifications).toEqual([
        { name: 'ops-json', delivered: 6, failed: 0 },
        { name: 'ops-slack', delivered: 3, failed: 0 },
      ]);

      // The URLs (and their secret paths) are nowhere in the run's history.
      const { asText, asExport } = await historyForms(temporal.client.workflow.getHandle(workflowId));
      // The check would see a URL if it were there: the decoded history holds the events and names.
      expect(asText).toContain('gate promote-blue is waiting for a decision');
      expect(asText).toContain('ops-slack');
      expectNowhere([asText, asExport], [json.url, json.secret, slack.url, slack.secret]);
    });
  });

  it('tell a rollback step by step: step failed, rollback started and finished, outcome', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    fleet.brokenOn.set('green-2', 'v2');
    const json = await receiver('ok');
    const plan = fleet.plan({ environment: uniqueEnv('notify-rb'), gates: gates(false), notify: [{ name: 'ops' }] });
    await deployment(fleet, plan, { BLUEGREEN_WEBHOOK_OPS: json.url }, async ({ workflowId, start }) => {
      await start();
      const result = await resultOf(workflowId);
      expect(result.outcome).toBe('rolled-back');
      const events = bodies(json);
      expect(events.map((e) => e.event)).toEqual(['run-started', 'step-failed', 'rollback-started', 'rollback-finished', 'outcome']);
      expect(events[1]?.failure).toMatchObject({ kind: 'failure', step: 'deploy', cluster: 'green', host: 'green-2' });
      expect(events[1]?.failure?.message).toMatch(/green-2 did not become healthy on v2/);
      expect(events[2]?.rollback?.clusters.map((c) => `${c.cluster}:${c.outcome}`)).toEqual(['green:not-attempted']);
      expect(events[2]?.text).toMatch(/^rolling back green to v1: deploy of green failed on green-2: /);
      expect(events[3]?.rollback).toMatchObject({ ok: true, clusters: [{ cluster: 'green', outcome: 'rolled-back' }] });
      expect(events[3]?.text).toBe('rollback finished: green on v1 and live again');
      expect(events[4]?.outcome?.outcome).toBe('rolled-back');
      expect(events[4]?.outcome?.reason).toBe(result.reason);
    });
  });

  it('of a cancelled run still tell its rollback and outcome; a gate that expires is decided by timeout', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const json = await receiver('ok');
    const plan = fleet.plan({ environment: uniqueEnv('notify-cancel'), gates: gates(true), notify: [{ name: 'ops' }] });
    await deployment(fleet, plan, { BLUEGREEN_WEBHOOK_OPS: json.url }, async ({ workflowId, start }) => {
      await start();
      await arrived(json, 'gate-pending', 'promote-green');
      await temporal.client.workflow.getHandle(workflowId).cancel();
      await expect(temporal.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
      const events = bodies(json);
      expect(events.map((e) => e.event)).toEqual(['run-started', 'gate-pending', 'rollback-started', 'rollback-finished', 'outcome']);
      expect(events[2]?.failure).toMatchObject({ kind: 'cancel', step: 'verify', cluster: 'green' });
      expect(events[3]?.rollback?.ok).toBe(true);
      expect(events[4]?.outcome?.outcome).toBe('rolled-back');
    });

    const expiring = await receiver('ok');
    const plan2 = fleet.plan({
      environment: uniqueEnv('notify-expire'),
      gates: { promote: { enabled: true, timeoutSeconds: 1, onTimeout: 'reject' } },
      notify: [{ name: 'ops', events: ['gate-decided', 'outcome'] }],
    });
    await deployment(new FakeFleet(HOSTS, 'v1'), plan2, { BLUEGREEN_WEBHOOK_OPS: expiring.url }, async ({ workflowId, start }) => {
      await start();
      expect((await resultOf(workflowId)).outcome).toBe('rolled-back');
      const events = bodies(expiring);
      expect(events.map((e) => `${e.seq} ${e.event}`)).toEqual(['1 gate-decided', '2 outcome']);
      expect(events[0]?.decision).toEqual({ decision: 'rejected', by: 'timeout', reason: 'no decision within 1 s (onTimeout: reject)' });
    });
  });

  it('of a recovery: started, and how it ended', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    // green stranded on v2, out of the live pool, as a failed rollback leaves it.
    for (const h of ['green-1', 'green-2']) {
      fleet.releases.set(h, 'v2');
      Object.assign(fleet.pools.live.get(h) ?? {}, { admin: 'maint', up: false });
      Object.assign(fleet.pools.standby.get(h) ?? {}, { admin: 'ready', up: true });
    }
    const json = await receiver('ok');
    const plan = fleet.plan({ environment: uniqueEnv('notify-rec'), notify: [{ name: 'ops' }] });
    const taskQueue = uniqueId('notify-rec');
    const activities = createActivities({ ...fleet.deps(), webhooks: webhooksFromEnv({ BLUEGREEN_WEBHOOK_OPS: json.url }) });
    const result = await withWorker(taskQueue, activities, () =>
      temporal.client.workflow.execute(recoverFleet, {
        taskQueue,
        workflowId: `bluegreen-${plan.environment}`,
        args: [plan, 'v1'],
        workflowExecutionTimeout: '2 minutes',
      }),
    );
    expect(result.outcome).toBe('succeeded');
    const events = bodies(json);
    expect(events.map((e) => `${e.kind} ${e.event}`)).toEqual(['recovery run-started', 'recovery outcome']);
    expect(events[0]?.text).toBe('recovering every host to v1: green → blue, 4 hosts');
    expect(events[1]?.outcome).toMatchObject({ outcome: 'succeeded', reason: result.reason });
  });

  it('to receivers that are down, slow or answer 500 never delay the gate or fail the run, and show in the status', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const good = await receiver('ok');
    const failing = await receiver('fail');
    const slow = await receiver('slow', { slowMs: 60_000 });
    const dead = await deadUrl();
    const plan = fleet.plan({
      environment: uniqueEnv('notify-bad'),
      gates: gates(true),
      notify: [
        { name: 'good' },
        { name: 'failing' },
        { name: 'slow', timeoutSeconds: 2 },
        { name: 'down' },
        { name: 'nowhere' }, // not configured on this worker
      ],
    });
    const env = {
      BLUEGREEN_WEBHOOK_GOOD: good.url,
      BLUEGREEN_WEBHOOK_FAILING: failing.url,
      BLUEGREEN_WEBHOOK_SLOW: slow.url,
      BLUEGREEN_WEBHOOK_DOWN: dead,
    };
    await deployment(fleet, plan, env, async ({ workflowId, start }) => {
      const t0 = Date.now();
      await start();
      await until('gate promote-green', async () => (await status(workflowId)).pendingGate?.gate === 'promote-green', 30_000);
      const gateMs = Date.now() - t0;
      await arrived(good, 'gate-pending', 'promote-green');
      const goodMs = Date.now() - t0;
      // The slow receiver's first event alone takes 3 x 2 s + 1 s + 2 s = 9 s to give up on.
      console.log(
        `gate pending after ${gateMs} ms; its notification at the good receiver after ${goodMs} ms; slow receiver hit ${slow.hits} times`,
      );
      expect(gateMs).toBeLessThan(6000);
      expect(goodMs).toBeLessThan(7000);
      const handle = temporal.client.workflow.getHandle(workflowId);
      const t1 = Date.now();
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'promote-green', release: 'v2', by: 'alice' }] });
      await until('gate promote-blue', async () => (await status(workflowId)).pendingGate?.gate === 'promote-blue', 30_000);
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'promote-blue', release: 'v2', by: 'alice' }] });
      const result = await resultOf(workflowId);
      const endMs = Date.now() - t1;
      console.log(`approvals to result: ${endMs} ms; notifications: ${JSON.stringify(result.notifications)}`);
      expect(result.outcome).toBe('succeeded');
      // Bounded end wait: twice the slow webhook's worst case for one event (2 x 9 s), plus the run.
      expect(endMs).toBeLessThan(25_000);
      expect(bodies(good).map((e) => e.event)).toEqual([
        'run-started',
        'gate-pending',
        'gate-decided',
        'gate-pending',
        'gate-decided',
        'outcome',
      ]);
      const byName = new Map((result.notifications ?? []).map((n) => [n.name, n]));
      expect(byName.get('good')).toEqual({ name: 'good', delivered: 6, failed: 0 });
      expect(byName.get('failing')).toMatchObject({
        delivered: 0,
        failed: 6,
        lastError: expect.stringMatching(/^outcome: answered 500 Internal Server Error: boom at <webhook> \(1 attempt\)$/),
      });
      expect(byName.get('down')).toMatchObject({
        delivered: 0,
        failed: 6,
        lastError: 'outcome: connection refused (ECONNREFUSED) (1 attempt)',
      });
      expect(byName.get('nowhere')).toMatchObject({
        delivered: 0,
        failed: 6,
        lastError: expect.stringMatching(/^webhook nowhere is not configured on this worker: set BLUEGREEN_WEBHOOK_NOWHERE/),
      });
      const s = byName.get('slow');
      expect(s?.delivered).toBe(0);
      expect(s?.failed).toBeGreaterThanOrEqual(1);
      expect(s?.lastError).toMatch(/no answer within 2 s/);
      // bluegreen status shows the problem, by webhook, without a URL.
      const shown = await bg(['status', plan.environment]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain(
        'NOTIFICATIONS FAILING: failing (6 failed), slow (6 failed), down (6 failed), nowhere (6 failed); see Notifications below',
      );
      const table = shown.stdout.slice(shown.stdout.indexOf('\nNotifications\n'));
      expect(table).toMatch(/ good +│ 6 +│ 0 /);
      expect(table).toMatch(/ down +│ 0 +│ 6 +│ \d\d:\d\d:\d\d: outcome: connection refused \(ECONNREFUSED\) \(1 attempt\)/);
      expect(table).toMatch(/ slow .*no answer within 2 s/);
      const { asText, asExport } = await historyForms(handle);
      expect(asText).toContain('no answer within 2 s');
      expectNowhere(
        [JSON.stringify(result), shown.stdout, asText, asExport],
        [good.url, failing.url, slow.url, dead, good.secret, failing.secret, slow.secret, 'T0DEAD/B0/deadsecret'],
      );
    });
  });
});
