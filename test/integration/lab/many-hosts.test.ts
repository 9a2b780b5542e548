// A bigger fleet: every host reachable over SSH at once, traffic spread over all of them.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labStatus, labUp, showStat, startLoad, type LabUpResult } from '../../../src/lab';
import { descendants } from '../../../src/lab/procs';
import { processExists, sshExec, tempLabDir, testBasePort } from '../../support/lab-tools';

const PER_CLUSTER = 10;
let lab: LabUpResult;
const dir = tempLabDir('lab-many');

beforeAll(async () => {
  lab = await labUp({ dir, hostsPerCluster: PER_CLUSTER, basePort: testBasePort(1) });
  console.log(`lab up with ${PER_CLUSTER} hosts per cluster: ${lab.elapsedMs} ms`);
});

afterAll(async () => {
  await labDown(dir);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe(`lab with ${PER_CLUSTER} hosts per cluster`, () => {
  it('answers on every host over SSH at the same time, each with its own host key', async () => {
    expect(lab.hosts).toHaveLength(2 * PER_CLUSTER);
    expect(
      new Set(
        fs
          .readFileSync(lab.knownHostsPath, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(' ')[2]),
      ).size,
    ).toBe(2 * PER_CLUSTER);
    const results = await Promise.all(
      lab.hosts.map((h) =>
        sshExec({
          port: h.sshPort,
          user: lab.user,
          keyPath: lab.keyPath,
          knownHosts: lab.knownHostsPath,
          command: `${lab.hostScript} current`,
        }),
      ),
    );
    expect(results.map((r) => [r.code, r.stdout])).toEqual(lab.hosts.map(() => [0, 'v1\n']));
  });

  it('spreads live traffic over every host with no failure and no lost write', async () => {
    const rows = await showStat(lab.haproxySocket, 'live');
    expect(rows.filter((r) => r.status === 'UP')).toHaveLength(2 * PER_CLUSTER);
    const load = startLoad({ url: lab.liveUrl, rps: 200, dbPath: lab.dbPath });
    await new Promise((r) => setTimeout(r, 3000));
    const report = await load.stop();
    expect(report.failures.count).toBe(0);
    expect(report.lostWrites).toEqual([]);
    expect(Object.keys(report.hostsSeen).sort()).toEqual(lab.hosts.map((h) => h.name).sort());
  });

  it('lab down stops all of its processes', async () => {
    const s = await labStatus(dir);
    const roots = [s.haproxy.pid!, ...s.hosts.flatMap((h) => [h.sshd.pid!, h.app.pid!])];
    expect(new Set(roots).size).toBe(1 + 4 * PER_CLUSTER);
    expect(roots.every(processExists)).toBe(true);
    const pids = [...roots, ...descendants(roots)];
    const t = Date.now();
    await labDown(dir);
    console.log(`lab down with ${PER_CLUSTER} hosts per cluster: ${Date.now() - t} ms`);
    expect(pids.filter(processExists)).toEqual([]);
  });
});
