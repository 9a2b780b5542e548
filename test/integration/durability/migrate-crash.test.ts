// Tracker issue 11, item 6: the worker is SIGKILLed in the middle of a 10 s migration. The
// migration runs as a detached job on the host, so it runs once, to the end; the next attempt (on a
// new worker) collects its outcome, and the run succeeds, under load, with nothing lost.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { startLoad } from '../../../src/lab';
import { parsePlan } from '../../../src/plan/validate';
import { startDeployment } from '../../../src/client/start';
import { statusQuery } from '../../../src/workflows/messages';
import { uniqueId, useTemporal } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import { useTestLab } from '../../support/test-lab';

const t = useTestLab(5);
const temporal = useTemporal();

describe('the worker is SIGKILLed in the middle of a 10 s migration', () => {
  it('the migration runs once, to the end; the next attempt collects it and the run succeeds (0 failed requests, 0 lost writes)', async () => {
    const migrationHost = t.lab.hosts.find((h) => h.name === t.plan.migration?.host);
    if (!migrationHost) throw new Error('the lab plan names no migration host');
    const runs = path.join(migrationHost.root, 'migrate-runs.log');
    const labMigrate = t.plan.commands.migrate as string;
    const plan = parsePlan({
      ...t.plan,
      release: 'v2',
      currentRelease: 'v1',
      commands: {
        ...t.plan.commands,
        // Each run writes "start", then "end" only once the real migration succeeded 10 s later.
        migrate: `echo start >> "$BG_HOST_ROOT/migrate-runs.log"; sleep 10; ${labMigrate} && echo end >> "$BG_HOST_ROOT/migrate-runs.log"`,
      },
    });
    const taskQueue = uniqueId('migrate-crash');
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: t.lab.keyPath,
      BG_KNOWN_HOSTS: t.lab.knownHostsPath,
    };
    const load = startLoad({ url: t.lab.liveUrl, rps: 150, dbPath: t.lab.dbPath });
    let worker: WorkerProcess | undefined = await startWorkerProcess(env);
    const lines = () => (fs.existsSync(runs) ? fs.readFileSync(runs, 'utf8').trim().split('\n').filter(Boolean) : []);
    try {
      const handle = await startDeployment(temporal.client, plan, { taskQueue, workflowId: uniqueId('migrate-crash') });
      const deadline = Date.now() + 180_000;
      while (lines().length === 0) {
        if (Date.now() > deadline) throw new Error('the migration never started');
        const s = await handle.query(statusQuery).catch(() => undefined);
        if (s?.outcome) throw new Error(`run ended (${s.outcome}: ${s.reason}) before the migration started`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Well inside the 10 s: the migration is half-way when its worker dies.
      await new Promise((r) => setTimeout(r, 3000));
      expect(lines()).toEqual(['start']);
      await worker.kill('SIGKILL');
      worker = undefined;
      await new Promise((r) => setTimeout(r, 1000));
      worker = await startWorkerProcess(env);
      const result = await handle.result();
      const report = await load.stop();

      expect(result.outcome, result.reason).toBe('succeeded');
      expect(result.reason).toContain('migration done');
      expect(lines()).toEqual(['start', 'end']);
      expect(report.failures.list).toEqual([]);
      expect(report.lostWrites).toEqual([]);
      // The migration activity did run twice (the first attempt died with its worker): the second
      // attempt collected the job instead of running it again.
      const history = await handle.fetchHistory();
      const attempts = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runMigration');
      expect(attempts).toHaveLength(1);
      const retried = (history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) >= 2);
      expect(retried.length).toBeGreaterThanOrEqual(1);
    } finally {
      await worker?.kill('SIGKILL');
      await load.stop().catch(() => undefined);
    }
  });
});
