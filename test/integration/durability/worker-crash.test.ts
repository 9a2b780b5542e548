// Crash survival: the worker process is SIGKILLed in the middle of a step (or at a gate),
// restarted, and the run completes as if nothing happened, on the real lab, under load.
import http from 'node:http';
import { describe, expect, inject, it } from 'vitest';
import { hostCurrentRelease, hostRestarts, startLoad } from '../../../src/lab';
import { parsePlan } from '../../../src/plan/validate';
import { startDeployment } from '../../../src/client/start';
import { approveUpdate, statusQuery } from '../../../src/workflows/messages';
import type { DeploymentStatus } from '../../../src/workflows/state';
import { uniqueId, useTemporal } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { useTestLab } from '../../support/test-lab';

const t = useTestLab(2);
const temporal = useTemporal();

/** Requests that stay in flight for `ms`, so a drain has sessions to wait for. */
function holdSessions(url: string, count: number, ms: number): Promise<unknown> {
  return Promise.all(
    Array.from(
      { length: count },
      () => new Promise((resolve) => http.get(`${url}/slow?ms=${ms}`, (res) => res.resume().on('end', resolve)).on('error', resolve)),
    ),
  );
}

interface KillPoint {
  name: string;
  when: (s: DeploymentStatus) => boolean;
  gate?: boolean;
  beforeStart?: () => void;
}

async function deployWithKill(point: KillPoint) {
  const from = hostCurrentRelease(t.lab.hosts[0]!.name, t.lab.dir) ?? 'v1';
  const to = from === 'v1' ? 'v2' : 'v1';
  const taskQueue = uniqueId('crash');
  const env = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    BG_TASK_QUEUE: taskQueue,
    BG_SSH_KEY: t.lab.keyPath,
    BG_KNOWN_HOSTS: t.lab.knownHostsPath,
  };
  const startedAt = new Date().toISOString();
  const plan = parsePlan({
    ...t.plan,
    release: to,
    currentRelease: from,
    gates: { promote: { enabled: point.gate === true, timeoutSeconds: 600 } },
    // More smoke requests make step 3 last long enough (~1 s) for the status poll to catch it.
    smoke: Array.from({ length: 8 }, () => t.plan.smoke[0]!),
  });
  const load = startLoad({ url: t.lab.liveUrl, rps: 150, dbPath: t.lab.dbPath });
  let worker: WorkerProcess | undefined = await startWorkerProcess(env);
  let killedAt: string | undefined;
  try {
    const handle = await startDeployment(temporal.client, plan, { taskQueue, workflowId: uniqueId('crash') });
    point.beforeStart?.();
    // Poll the status until the kill point is reached, then SIGKILL the worker.
    const deadline = Date.now() + 120_000;
    while (!killedAt) {
      if (Date.now() > deadline) throw new Error(`kill point ${point.name} never reached`);
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s?.outcome) throw new Error(`run ended (${s.outcome}: ${s.reason}) before kill point ${point.name}`);
      if (s && point.when(s)) {
        await worker?.kill('SIGKILL');
        killedAt = `${s.step}${s.cluster ? `:${s.cluster}` : ''} (${s.clusters.flatMap((c) => c.hosts.map((h) => `${h.name}=${h.phase}`)).join(' ')})`;
        worker = undefined;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 1000));
    worker = await startWorkerProcess(env);
    if (point.gate) {
      for (;;) {
        const s = await handle.query(statusQuery).catch(() => undefined);
        const gate = s?.pendingGate?.gate;
        if (gate) {
          await handle.executeUpdate(approveUpdate, {
            args: [{ gate, release: s?.release, by: 'crash-test', reason: 'approved after the worker restarted' }],
          });
          if (gate === 'promote-blue') break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const result = await handle.result();
    const report = await load.stop();
    return { result, report, to, startedAt, killedAt };
  } finally {
    await worker?.kill('SIGKILL');
    await load.stop().catch(() => undefined);
  }
}

const points: KillPoint[] = [
  {
    name: 'step 1 (standby: draining with sessions in flight)',
    when: (s) => s.step === 'standby' && s.clusters.some((c) => c.hosts.some((h) => h.phase === 'draining')),
    beforeStart: () => void holdSessions(t.lab.liveUrl, 8, 3000),
  },
  {
    name: 'step 2 (deploy: a host installing or starting)',
    when: (s) => s.step === 'deploy' && s.clusters.some((c) => c.hosts.some((h) => h.phase === 'installing' || h.phase === 'starting')),
  },
  { name: 'step 3 (verify)', when: (s) => s.step === 'verify' },
  { name: 'step 4 (live)', when: (s) => s.step === 'live' },
  { name: 'a waiting promote gate', when: (s) => s.pendingGate?.gate === 'promote-green', gate: true },
];

describe('the worker is killed with SIGKILL and restarted', () => {
  for (const point of points) {
    it(`in the middle of ${point.name}: the run completes, 0 failed requests, 0 lost writes, one restart per host`, async () => {
      const { result, report, to, startedAt, killedAt } = await deployWithKill(point);
      console.log(`killed at ${killedAt}`);
      expect(result.outcome).toBe('succeeded');
      expect(report.failures.list).toEqual([]);
      expect(report.lostWrites).toEqual([]);
      for (const h of t.lab.hosts) {
        expect(hostCurrentRelease(h.name, t.lab.dir)).toBe(to);
        const restarts = hostRestarts(h.name, t.lab.dir).filter((r) => r.at >= startedAt && r.release === to);
        expect(restarts, `${h.name} restarts`).toHaveLength(1);
      }
      expect(result.hosts.every((h) => h.release === to && h.pool === 'live')).toBe(true);
    });
  }
});
