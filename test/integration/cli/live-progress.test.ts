// `bluegreen status` shows a running deploy step's live progress (hosts done / total, in flight),
// read from the deploy activity's heartbeat details, on the real lab (sshd hosts, HAProxy, a real
// Temporal server) with a slow deploy: the `slow-start` release is unhealthy for ~6 s after start.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startDeployment } from '../../../src/client/start';
import { parsePlan } from '../../../src/plan/validate';
import { useTemporal, uniqueId } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { useTestLab } from '../../support/test-lab';
import { bg, uniqueEnv } from '../../support/cli';

const temporal = useTemporal();
const t = useTestLab(15, 4);
let worker: WorkerProcess | undefined;
afterAll(async () => {
  await worker?.kill('SIGKILL');
});

describe('bluegreen status during a slow deploy', () => {
  it('shows hosts done / total and the hosts in flight while deploy runs, then the outcome', async () => {
    const env = uniqueEnv('live');
    const taskQueue = uniqueId('live');
    const plan = parsePlan({
      ...t.plan,
      environment: env,
      release: 'slow-start',
      currentRelease: 'v1',
      parallelism: 2,
      health: { path: '/health', timeoutSeconds: 30, intervalMs: 500 },
      drain: { deadlineSeconds: 8 },
    });
    // The compiled worker as in production (its heartbeats leave at least every 3 s).
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: t.lab.keyPath,
      BG_KNOWN_HOSTS: t.lab.knownHostsPath,
      BG_LOG_LEVEL: 'WARN',
    });
    const seen: string[] = [];
    type Json = { progress?: { activity: string; cluster?: string; done: number; total?: number; inFlight: string[] }[] };
    let json: Json | undefined;
    {
      const handle = await startDeployment(temporal.client, plan, { taskQueue });
      const ended = handle.result().then(
        (r) => r.outcome,
        (err: unknown) => `failed: ${String(err)}`,
      );
      let done = false;
      void ended.then(() => (done = true));
      // Poll the real CLI as an operator would, until the run ends.
      while (!done) {
        const r = await bg(['status', env]);
        const line = r.stdout.split('\n').find((l) => /^\s+deploy (green|blue): /.test(l));
        if (line && !seen.includes(line.trim())) seen.push(line.trim());
        if (!json && line && /in flight/.test(line)) {
          const j = await bg(['status', env, '--json']);
          const parsed = JSON.parse(j.stdout) as Json;
          if (parsed?.progress?.some((p) => p.inFlight.length > 0)) json = parsed;
        }
      }
      expect(await ended).toBe('succeeded');
    }
    console.log(`[live progress] lines seen:\n  ${seen.join('\n  ')}`);
    // With 2 at a time and ~6 s per host, every cluster shows intermediate states while it runs.
    for (const cluster of ['green', 'blue']) {
      const lines = seen.filter((l) => l.startsWith(`deploy ${cluster}: `));
      expect(
        lines.some((l) =>
          new RegExp(`^deploy ${cluster}: [0-3]/4 hosts healthy on slow-start; in flight: ${cluster}-\\d(, ${cluster}-\\d)?`).test(l),
        ),
      ).toBe(true);
      expect(lines.some((l) => new RegExp(`^deploy ${cluster}: [1-3]/4 hosts healthy`).test(l))).toBe(true);
    }
    expect(json?.progress?.[0]).toMatchObject({
      activity: 'deployHosts',
      total: 4,
      inFlight: expect.arrayContaining([expect.stringMatching(/^(green|blue)-\d$/)]),
    });
    // After the end, no live progress: the status comes from the result.
    const after = await bg(['status', env]);
    expect(after.stdout).toMatch(/outcome: succeeded/);
    expect(after.stdout).not.toMatch(/^\s+deploy (green|blue): /m);
  }, 240_000);
});
