// Notifications on the real lab: sshd hosts, HAProxy, the compiled worker as its own process (as in
// production) with one webhook in its environment, one in a YAML file, and one URL that refuses
// connections. A deployment and a rolled-back one tell their receivers everything in order; no URL
// is in the history or the worker's output (at DEBUG).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NotifyEvent } from '../../../src/activities/notify-types';
import { hostCurrentRelease } from '../../../src/lab';
import { blueGreenDeployment } from '../../../src/workflows';
import type { DeploymentResult } from '../../../src/workflows/state';
import { useTestLab } from '../../support/test-lab';
import { useTemporal, uniqueId } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { expectNowhere, historyForms } from '../../support/history';
import { deadUrl, startReceiver, type Receiver } from '../../support/webhook-receiver';

const temporal = useTemporal();
const t = useTestLab(30);
let worker: WorkerProcess | undefined;
const receivers: Receiver[] = [];
afterAll(async () => {
  await worker?.kill();
  await Promise.all(receivers.map((r) => r.close()));
});

describe('notifications on the real lab, from the compiled worker', () => {
  it('tell a deployment and a rollback in order, with no URL in history or the worker output', async () => {
    const fromEnv = await startReceiver('ok');
    const fromFile = await startReceiver('ok');
    receivers.push(fromEnv, fromFile);
    const dead = await deadUrl();
    const file = path.join(t.lab.dir, 'webhooks.yaml');
    fs.writeFileSync(file, `ops-slack: ${fromFile.url}\n`, { mode: 0o600 });
    const taskQueue = uniqueId('notify-lab');
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: temporal.address,
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: t.lab.keyPath,
      BG_KNOWN_HOSTS: t.lab.knownHostsPath,
      BLUEGREEN_WEBHOOK_AUDIT: fromEnv.url,
      BLUEGREEN_WEBHOOK_PAGER: dead,
      BLUEGREEN_WEBHOOKS_FILE: file,
      BG_LOG_LEVEL: 'DEBUG',
    });
    const notify = [{ name: 'audit' }, { name: 'ops-slack', format: 'slack' as const }, { name: 'pager', events: ['outcome' as const] }];
    const run = async (release: string, currentRelease: string): Promise<{ id: string; result: DeploymentResult }> => {
      const id = uniqueId('notify-lab');
      const h = await temporal.client.workflow.start(blueGreenDeployment, {
        taskQueue,
        workflowId: id,
        args: [{ ...t.plan, release, currentRelease, notify }],
        workflowExecutionTimeout: '4 minutes',
      });
      const result = await h.result().catch((e: { cause?: { details?: DeploymentResult[] } }) => e.cause?.details?.[0] as DeploymentResult);
      return { id, result };
    };

    const ok = await run('v2', 'v1');
    expect(ok.result.outcome).toBe('succeeded');
    for (const h of t.lab.hosts) expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('v2');
    const failed = await run('bad-smoke', 'v2');
    expect(failed.result.outcome).toBe('rolled-back');

    const events = fromEnv.received.map((r) => r.body as unknown as NotifyEvent);
    expect(events.map((e) => `${e.workflowId === ok.id ? 'ok' : 'failed'} ${e.event}`)).toEqual([
      'ok run-started',
      'ok outcome',
      'failed run-started',
      'failed step-failed',
      'failed rollback-started',
      'failed rollback-finished',
      'failed outcome',
    ]);
    expect(events[3]?.failure).toMatchObject({ step: 'verify', cluster: t.plan.order[0] });
    expect(events[3]?.text).toMatch(/smoke test/);
    expect(fromFile.received.map((r) => (r.body as { text: string }).text.split(': ')[1])).toEqual([
      'deploying v2 (from v1)',
      'succeeded',
      'deploying bad-smoke (from v2)',
      expect.stringMatching(/^verify of /),
      'rolling back green to v2',
      'rollback finished',
      'rolled-back',
    ]);
    for (const r of [ok.result, failed.result]) {
      expect(r.notifications).toEqual([
        { name: 'audit', delivered: r === ok.result ? 2 : 5, failed: 0 },
        { name: 'ops-slack', delivered: r === ok.result ? 2 : 5, failed: 0 },
        expect.objectContaining({
          name: 'pager',
          delivered: 0,
          failed: 1,
          lastError: 'outcome: connection refused (ECONNREFUSED) (3 attempts)',
        }),
      ]);
    }

    const secrets = [fromEnv.url, fromFile.url, dead, fromEnv.secret, fromFile.secret, 'T0DEAD/B0/deadsecret'];
    for (const id of [ok.id, failed.id]) {
      const { asText, asExport } = await historyForms(temporal.client.workflow.getHandle(id));
      // The check would see a URL if it were there: the decoded history holds the events.
      expect(asText).toContain('run-started');
      expectNowhere([asText, asExport], secrets);
    }
    const output = worker.output();
    expect(output).toContain('worker: task queue');
    expectNowhere([output], secrets, 'the worker output');
  });
});
