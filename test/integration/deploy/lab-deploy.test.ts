// A full blue-green deployment on the real lab (sshd hosts, HAProxy, sample app) and a real
// Temporal server, under continuous load.
import { describe, expect, it } from 'vitest';
import { hostCurrentRelease, hostRestarts, showStat, startLoad } from '../../../src/lab';
import { blueGreenDeployment } from '../../../src/workflows';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';
import { useTestLab } from '../../support/test-lab';
import { expectSteadyLoad } from '../../support/load';

const temporal = useTemporal();
const t = useTestLab(1);

describe('a full deployment on the lab', () => {
  it('takes v1 to v2 under load with no failed request and no lost write, every host on v2 and live', async () => {
    const load = startLoad({ url: t.lab.liveUrl, rps: 200, dbPath: t.lab.dbPath });
    const taskQueue = uniqueId('e2e');
    const result = await withWorker(taskQueue, t.activities, () =>
      temporal.client.workflow.execute(blueGreenDeployment, {
        taskQueue,
        workflowId: uniqueId('lab'),
        args: [{ ...t.plan, release: 'v2', currentRelease: 'v1' }],
        workflowExecutionTimeout: '5 minutes',
      }),
    );
    // Let traffic run on the new release for a moment, so the last seconds show both clusters.
    await new Promise((r) => setTimeout(r, 1500));
    const report = await load.stop();

    expect(result.outcome).toBe('succeeded');
    expect(report.failures.list).toEqual([]);
    expect(report.lostWrites).toEqual([]);
    expect(report.writesAcknowledged).toBeGreaterThan(50);
    expectSteadyLoad(report, 3);

    const stat = await showStat(t.lab.haproxySocket);
    for (const h of t.lab.hosts) {
      expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('v2');
      expect(hostRestarts(h.name, t.lab.dir).filter((r) => r.release === 'v2')).toHaveLength(1);
      expect(stat.find((r) => r.pxname === 'live' && r.svname === h.name)?.status).toBe('UP');
      expect(stat.find((r) => r.pxname === 'standby' && r.svname === h.name)?.status).toBe('MAINT');
    }
    const lastSecond = report.releasesPerSecond.at(-1)?.releases ?? {};
    expect(Object.keys(lastSecond)).toEqual(['v2']);
    const hostsAtEnd = new Set(Object.keys(report.hostsSeen));
    expect([...hostsAtEnd].some((h) => h.startsWith('green')) && [...hostsAtEnd].some((h) => h.startsWith('blue'))).toBe(true);
  });
});
