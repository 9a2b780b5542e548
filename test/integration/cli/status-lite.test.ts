// `bluegreen status ENV` reads a running run without the Temporal SDK (src/cli/status-lite.ts): on a
// real dev server, with a real worker, it prints exactly what the full client path prints
// (BG_STATUS_CLIENT=full), for a run at a gate and for one whose deploy step is in flight, and gives
// the same errors for a missing environment and an unreachable server. The light runs load a hook
// that refuses any @temporalio/* import, so a fallback to the full client would fail them.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { ActivityDeps } from '../../../src/activities/deps';
import { statusQuery } from '../../../src/workflows/messages';
import { FakeFleet } from '../../support/fake-fleet';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { bg, tempDir, uniqueEnv, writePlan, type CliResult } from '../../support/cli';
import { until } from '../../support/wait';

const NO_SDK = fileURLToPath(new URL('../../support/no-temporal-sdk.mjs', import.meta.url));
const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];
const temporal = useTemporal();
let dir: string;
beforeAll(() => {
  dir = tempDir('status-lite');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const light = (args: string[], env: Record<string, string> = {}) => bg(args, { NODE_OPTIONS: `--import=${NO_SDK}`, ...env });
const full = (args: string[], env: Record<string, string> = {}) => bg(args, { BG_STATUS_CLIENT: 'full', ...env });

/** Durations measured against "now" (a gate pending for 3.2s, the current step's time) differ between two calls. */
const timeless = (text: string) =>
  text.replace(/\b\d+(\.\d)?(ms|s)\b|\b\d+m\d\ds\b|\b\d+h\d\dm\b|\b\d+d\d\dh\b/g, '<t>').replace(/[ ─]+/g, ' ');

describe('bluegreen status ENV: the light read path', () => {
  it('at a gate: text and --json are exactly those of the full client, without loading the SDK', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('lite-gate');
    const taskQueue = uniqueId('tq-lite');
    const gate = { enabled: true, timeoutSeconds: 600, onTimeout: 'reject' as const, approvers: ['alice'] };
    const plan = writePlan(dir, 'gate.json', fleet.plan({ environment: env, gates: { promote: gate } }));
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      expect((await bg(['deploy', plan, '--task-queue', taskQueue, '--by', 'carol'])).code).toBe(0);
      const handle = temporal.client.workflow.getHandle(`bluegreen-${env}`);
      await until('the run at its gate', async () => (await handle.query(statusQuery)).pendingGate?.gate === 'promote-green', 30_000);

      const [lj, fj] = await Promise.all([light(['status', env, '--json']), full(['status', env, '--json'])]);
      expect(lj).toMatchObject({ code: 0, stderr: '' });
      expect(lj.stdout).toBe(fj.stdout);
      const view = JSON.parse(lj.stdout) as { temporalStatus: string; status: { pendingGate?: { gate: string; approvers?: string[] } } };
      expect(view.temporalStatus).toBe('RUNNING');
      expect(view.status.pendingGate).toMatchObject({ gate: 'promote-green', approvers: ['alice'] });

      const [lt, ft] = await Promise.all([light(['status', env]), full(['status', env])]);
      expect(lt).toMatchObject({ code: 0, stderr: '' });
      expect(lt.stdout).toMatch(/PENDING GATE promote-green/);
      expect(timeless(lt.stdout)).toBe(timeless(ft.stdout));
      await handle.terminate('test done');
    });
  });

  it('during a deploy step: the live progress from the heartbeat matches the full client', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('lite-progress');
    const taskQueue = uniqueId('tq-lite');
    // green-2's install hangs until released: the deploy activity heartbeats green-1 done, green-2 in flight.
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    const deps: ActivityDeps = fleet.deps();
    const exec = deps.ssh.exec.bind(deps.ssh);
    deps.ssh.exec = async (target, command, ...rest) => {
      if (target.port === 10_001 && /install/.test(command)) await released;
      return exec(target, command, ...rest);
    };
    const plan = writePlan(
      dir,
      'progress.json',
      fleet.plan({ environment: env, parallelism: 2, health: { path: '/health', timeoutSeconds: 60, intervalMs: 100 } }),
    );
    await withWorker(taskQueue, createActivities(deps), async () => {
      expect((await bg(['deploy', plan, '--task-queue', taskQueue])).code).toBe(0);
      type View = { progress?: { activity: string; done: number; inFlight: string[]; lastHeartbeat?: string }[] };
      const seen = await until(
        'green-1 done and green-2 in flight in the heartbeat',
        async () => {
          const v = JSON.parse((await full(['status', env, '--json'])).stdout) as View;
          return v.progress?.some((p) => p.done === 1 && p.inFlight.includes('green-2')) && v;
        },
        60_000,
        500,
      );
      expect(seen.progress?.[0]?.activity).toBe('deployHosts');
      // The heartbeat's time moves while green-2 waits; everything else holds still.
      const heartbeatless = (r: CliResult) => {
        const v = JSON.parse(r.stdout) as View;
        for (const p of v.progress ?? []) {
          expect(p.lastHeartbeat).toMatch(/^\d{4}-\d\d-\d\dT/);
          delete p.lastHeartbeat;
        }
        return v;
      };
      const [lj, fj] = await Promise.all([light(['status', env, '--json']), full(['status', env, '--json'])]);
      expect(lj.code).toBe(0);
      expect(heartbeatless(lj)).toEqual(heartbeatless(fj));
      const lt = await light(['status', env]);
      expect(lt.stdout).toMatch(/deploy green: 1\/2 hosts healthy on v2; in flight: green-2/);
      release();
      await temporal.client.workflow.getHandle(`bluegreen-${env}`).terminate('test done');
    });
  });

  it('a missing environment and an unreachable server: the same errors and exit codes as the full client', async () => {
    const env = uniqueEnv('lite-none');
    const [ln, fn] = await Promise.all([light(['status', env]), full(['status', env])]);
    expect(ln.code).toBe(3);
    expect(ln).toEqual(fn);
    expect(ln.stderr).toMatch(/no deployment run for environment .*\nnext: start one with/);

    const down = ['status', 'lab', '--address', '127.0.0.1:1'];
    const [lu, fu] = await Promise.all([light(down), full(down)]);
    expect(lu.code).toBe(1);
    expect(lu).toEqual(fu);
    expect(lu.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
  });

  it('a run no worker answers: the same view, error and exit code as the full client, after the same 10 s', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('lite-noworker');
    const plan = writePlan(dir, 'noworker.json', fleet.plan({ environment: env }));
    expect((await bg(['deploy', plan, '--task-queue', uniqueId('nobody-polls')])).code).toBe(0);
    try {
      const [lt, ft] = await Promise.all([light(['status', env]), full(['status', env])]);
      expect(lt.code).toBe(1);
      expect(lt.stderr).toBe(ft.stderr);
      expect(lt.stderr).toMatch(/did not answer the status query within 10 s: .*\nnext: make sure a worker polls task queue "nobody-polls/);
      expect(timeless(lt.stdout)).toBe(timeless(ft.stdout));
    } finally {
      await temporal.client.workflow.getHandle(`bluegreen-${env}`).terminate('test done');
    }
  });

  it('a closed run is left to the full client (its result is in history)', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const env = uniqueEnv('lite-closed');
    const taskQueue = uniqueId('tq-lite');
    const plan = writePlan(dir, 'closed.json', fleet.plan({ environment: env }));
    await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
      expect((await bg(['deploy', plan, '--task-queue', taskQueue, '--wait'])).code).toBe(0);
    });
    // The SDK-refusing hook makes the fallback visible: it fails where the full client is needed.
    const refused = await light(['status', env]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/must not load @temporalio\/client/);
    const r = await bg(['status', env]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/outcome: succeeded/);
  });
});
