// Temporal Web shows a deployment run: its own dev server with the UI, a run waiting at a gate,
// headless Chromium opens the run's page and finds the summary and the pending gate. One screenshot
// is kept in test-artifacts/ (gitignored).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { startDeployment } from '../../../src/client/start';
import { webLink, temporalSettings } from '../../../src/config';
import { parsePlan } from '../../../src/plan/validate';
import { freePort, startDevServer, type DevServer } from '../../../src/temporal/dev-server';
import { statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { quietTemporalLogs, uniqueId, workflowBundle } from '../../support/temporal';
import { REPO } from '../../support/cli';
import { until } from '../../support/wait';

const CHROMIUM = process.env.BG_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'test-artifacts');

let server: DevServer | undefined;
let connection: Connection | undefined;
let workerConnection: NativeConnection | undefined;
let worker: Worker | undefined;
let workerRun: Promise<void> | undefined;
let browser: BrowserContext | undefined;
let profileDir: string | undefined;

beforeAll(async () => {
  server = await startDevServer({ uiPort: await freePort() });
  connection = await Connection.connect({ address: server.address });
  quietTemporalLogs();
}, 90_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (worker && worker.getState() === 'RUNNING') worker.shutdown();
  await workerRun?.catch(() => {});
  await workerConnection?.close();
  await connection?.close();
  await server?.stop();
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
});

describe('Temporal Web', () => {
  it('shows the run, its summary and its pending gate', async () => {
    const client = new Client({ connection: connection!, namespace: 'default' });
    const taskQueue = uniqueId('tq-web');
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    const plan = parsePlan(
      fleet.plan({ environment: 'web', gates: { promote: { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' } } }),
    );

    workerConnection = await NativeConnection.connect({ address: server!.address });
    worker = await Worker.create({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities(fleet.deps()),
    });
    workerRun = worker.run();

    const handle = await startDeployment(client, plan, { taskQueue, startedBy: 'alice' });
    await until('the gate', async () => (await handle.query(statusQuery)).pendingGate?.gate === 'promote-green', 30_000);
    const settings = temporalSettings({ TEMPORAL_WEB_URL: `http://127.0.0.1:${server!.uiPort}` });
    const url = webLink(settings, handle.workflowId, handle.firstExecutionRunId);

    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    try {
      // The workflow list, filtered by our search attribute, finds the run.
      const list = `${settings.webUrl}/namespaces/default/workflows?query=${encodeURIComponent("BgEnvironment='web'")}`;
      await page.goto(list, { waitUntil: 'domcontentloaded', timeout: 30_000 });
      await page.getByRole('link', { name: 'bluegreen-web' }).first().waitFor({ timeout: 30_000 });

      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 30_000 });
      // Temporal Web 2.4x shows the static summary/details and the current details under "User Metadata".
      const tab = page.getByText('User Metadata', { exact: true }).first();
      await tab.waitFor({ timeout: 30_000 });
      await tab.click();
      // Summary and details render as markdown, partly inside sandboxed iframes: read every frame's visible text.
      const pageText = async () =>
        (
          await Promise.all(
            page.frames().map((f) =>
              f
                .locator('body')
                .innerText()
                .catch(() => ''),
            ),
          )
        ).join('\n');
      const text = await until(
        'the summary and the pending gate in Current Details',
        async () => {
          const t = await pageText();
          return t.includes('Deploy v2 to web (from v1)') && /Waiting for approval of gate\s+promote-green/.test(t) ? t : undefined;
        },
        20_000,
      );
      expect(text).toMatch(/Release\s+v1 → v2/);
      expect(text).toMatch(/Started by\s+alice/);
    } finally {
      await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-web-run.png'), fullPage: true });
    }
    expect(fs.statSync(path.join(ARTIFACTS, 'temporal-web-run.png')).size).toBeGreaterThan(10_000);
    await handle.cancel();
  });
});
