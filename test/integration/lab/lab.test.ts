// The lab on real parts: OpenSSH sshd per host, HAProxy with its Runtime API, the sample app.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  labUp,
  labDown,
  labStatus,
  startLoad,
  haproxyCommand,
  serverRow,
  showStat,
  hostCurrentRelease,
  hostRestarts,
  hostReleases,
  stopSshd,
  startSshdAgain,
  freezeHost,
  thawHost,
  stopApp,
  startApp,
  hideHaproxyApi,
  restoreHaproxyApi,
  dropSshConnections,
  describeLab,
  type LabUpResult,
} from '../../../src/lab';
import { allPorts } from '../../../src/lab/layout';
import { descendants } from '../../../src/lab/procs';
import { planSchema } from '../../../src/plan/schema';
import { getJson, listeningPorts, processExists, sshExec, tempLabDir, testBasePort } from '../../support/lab-tools';
import { until } from '../../support/wait';
import { expectSteadyLoad } from '../../support/load';

let lab: LabUpResult;
const dir = tempLabDir('lab');

const host = (name: string) => lab.hosts.find((h) => h.name === name)!;
const ssh = (name: string, command: string, knownHosts = lab.knownHostsPath, readyTimeout?: number) =>
  sshExec({ port: host(name).sshPort, user: lab.user, keyPath: lab.keyPath, knownHosts, command, readyTimeout });
const allLiveUp = () =>
  until('every live server UP', async () => (await showStat(lab.haproxySocket, 'live')).every((r) => r.status === 'UP'), 20_000);

beforeAll(async () => {
  lab = await labUp({ dir, hostsPerCluster: 2, basePort: testBasePort(0) });
});

afterAll(async () => {
  await labDown(dir);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('lab', () => {
  it('writes a plan that the deployment plan schema accepts, naming every host with its ports', () => {
    const plan = planSchema.parse(JSON.parse(fs.readFileSync(lab.planPath, 'utf8')));
    expect(Object.keys(plan.clusters)).toEqual(['green', 'blue']);
    expect(plan.clusters.green!.hosts.map((h) => h.name)).toEqual(['green-1', 'green-2']);
    expect(plan.clusters.blue!.hosts[0]!.ssh).toEqual({ host: '127.0.0.1', port: host('blue-1').sshPort, user: lab.user });
    expect(plan.loadBalancer).toMatchObject({ type: 'haproxy', runtimeApi: { socket: lab.haproxySocket } });
    expect(plan.commands.install).toBe(`${lab.hostScript} install {release}`);
    expect(fs.statSync(lab.keyPath).mode & 0o777).toBe(0o600);
  });

  it('starts every host on v1, live in HAProxy and in maintenance in standby', async () => {
    expect(lab.hosts.map((h) => hostCurrentRelease(h.name, dir))).toEqual(['v1', 'v1', 'v1', 'v1']);
    const live = await showStat(lab.haproxySocket, 'live');
    const standby = await showStat(lab.haproxySocket, 'standby');
    expect(live.map((r) => [r.svname, r.status])).toEqual(lab.hosts.map((h) => [h.name, 'UP']));
    expect(standby.map((r) => [r.svname, r.status])).toEqual(lab.hosts.map((h) => [h.name, 'MAINT']));
    const r = await getJson(`${lab.liveUrl}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-release')).toBe('v1');
    expect(r.body.host).toBe(r.headers.get('x-host'));
  });

  it('lets SSH in with host keys checked against the lab known_hosts, with BG_HOST_ROOT set', async () => {
    const r = await ssh('green-2', 'echo "$BG_HOST_ROOT"; whoami');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${host('green-2').root}\n${lab.user}\n`);
  });

  it('refuses the connection when known_hosts holds another key for the host', async () => {
    // Pretend green-2's key belongs to green-1's port: a man in the middle, as far as ssh2 can tell.
    const wrong = path.join(dir, 'wrong_known_hosts');
    const g2 = fs
      .readFileSync(lab.knownHostsPath, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`[127.0.0.1]:${host('green-2').sshPort} `))!;
    fs.writeFileSync(wrong, g2.replace(`:${host('green-2').sshPort} `, `:${host('green-1').sshPort} `) + '\n');
    await expect(ssh('green-1', 'true', wrong)).rejects.toThrow(/verif/i);
  });

  it('installs a release by hand over SSH, and a second install of it is a no-op that restarts nothing', async () => {
    const script = lab.hostScript;
    expect(await ssh('green-2', `${script} current`)).toEqual({ code: 0, stdout: 'v1\n', stderr: '' });
    const first = await ssh('green-2', `${script} install v2`);
    expect(first).toMatchObject({ code: 0, stdout: 'v2\n' });
    expect((await getJson(`http://127.0.0.1:${host('green-2').appPort}/health`)).body).toEqual({
      status: 'ok',
      release: 'v2',
      host: 'green-2',
    });
    const restarts = hostRestarts('green-2', dir);
    expect(restarts.map((r) => r.release)).toEqual(['v1', 'v2']);
    const pid = fs.readFileSync(path.join(host('green-2').root, 'app.pid'), 'utf8');

    const again = await ssh('green-2', `${script} install v2`);
    expect(again).toMatchObject({ code: 0, stdout: 'v2\n' });
    expect(again.stderr).toMatch(/nothing to do/);
    expect(hostRestarts('green-2', dir)).toEqual(restarts);
    expect(fs.readFileSync(path.join(host('green-2').root, 'app.pid'), 'utf8')).toBe(pid);
    expect(fs.readlinkSync(path.join(host('green-2').root, 'current'))).toBe('releases/v2');
  });

  it('rejects bad release names with exit 2 and unknown releases with exit 3', async () => {
    for (const bad of ['../v1', '-rf', "'v2;touch x'", '.hidden']) {
      const r = await ssh('green-2', `${lab.hostScript} install ${bad}`);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/invalid release name/);
    }
    const r = await ssh('green-2', `${lab.hostScript} install v999`);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/unknown release "v999"/);
    expect(hostCurrentRelease('green-2', dir)).toBe('v2');
  });

  it('keeps only the last three releases and can go back to a kept one', async () => {
    for (const rel of ['bad-smoke', 'v1']) expect((await ssh('green-2', `${lab.hostScript} install ${rel}`)).code).toBe(0);
    expect(hostReleases('green-2', dir)).toEqual(['bad-smoke', 'v1', 'v2']);
    expect((await ssh('green-2', `${lab.hostScript} install slow-start`)).code).toBe(0);
    expect(hostReleases('green-2', dir)).toEqual(['bad-smoke', 'slow-start', 'v1']);
    const starting = await getJson(`http://127.0.0.1:${host('green-2').appPort}/health`);
    expect(starting.status).toBe(503);
    expect((await ssh('green-2', `${lab.hostScript} install v1`)).stdout).toBe('v1\n');
    await allLiveUp();
  });

  it('serves a wrong smoke answer from bad-smoke and never a healthy one from bad-health', async () => {
    const appUrl = `http://127.0.0.1:${host('blue-2').appPort}`;
    await ssh('blue-2', `${lab.hostScript} install bad-smoke`);
    expect((await getJson(`${appUrl}/health`)).status).toBe(200);
    expect((await getJson(`${appUrl}/smoke`)).body).toMatchObject({ ok: false, release: 'bad-smoke' });
    await ssh('blue-2', `${lab.hostScript} install bad-health`);
    expect((await getJson(`${appUrl}/health`)).status).toBe(503);
    await until('blue-2 DOWN in live', async () => (await serverRow(lab.haproxySocket, 'live', 'blue-2'))?.status === 'DOWN');
  });

  it('runs v3 only after the migration, which a second run reports as already done', async () => {
    const appUrl = `http://127.0.0.1:${host('blue-2').appPort}`;
    await ssh('blue-2', `${lab.hostScript} install v3`);
    expect((await getJson(`${appUrl}/health`)).status).toBe(503);
    const write = await fetch(`${appUrl}/items`, { method: 'POST', body: JSON.stringify({ id: 'v3-before' }) });
    expect(write.status).toBe(500);
    // v1 keeps writing while the schema changes under it.
    expect((await fetch(`${lab.liveUrl}/items`, { method: 'POST', body: JSON.stringify({ id: 'v1-during' }) })).status).toBe(201);
    expect(await ssh('blue-1', `${lab.hostScript} migrate`)).toMatchObject({ code: 0, stdout: 'migrated to schema version 2\n' });
    expect(await ssh('blue-1', `${lab.hostScript} migrate`)).toMatchObject({
      code: 0,
      stdout: 'already at schema version 2; nothing to do\n',
    });
    expect((await getJson(`${appUrl}/health`)).body).toEqual({ status: 'ok', release: 'v3', host: 'blue-2' });
    expect((await fetch(`${appUrl}/items`, { method: 'POST', body: JSON.stringify({ id: 'v3-after', tags: ['a'] }) })).status).toBe(201);
    expect((await getJson(`${lab.liveUrl}/items/v1-during`)).status).toBe(200);
    await ssh('blue-2', `${lab.hostScript} install v1`);
    await allLiveUp();
  });

  it('drives HAProxy through its Runtime API: drain, maint, ready, and errors as text', async () => {
    const sock = lab.haproxySocket;
    for (const [state, status] of [
      ['drain', 'DRAIN'],
      ['maint', 'MAINT'],
      ['ready', 'UP'],
    ] as const) {
      expect((await haproxyCommand(sock, `set server live/blue-1 state ${state}`)).trim()).toBe('');
      await until(`blue-1 ${status}`, async () => (await serverRow(sock, 'live', 'blue-1'))?.status === status);
    }
    expect(await haproxyCommand(sock, 'set server live/nope state drain')).toMatch(/No such server/);
    expect((await haproxyCommand(sock, 'set server standby/blue-1 state ready')).trim()).toBe('');
    await until('blue-1 UP in standby', async () => (await serverRow(sock, 'standby', 'blue-1'))?.status === 'UP');
    const viaStandby = await getJson(`${lab.standbyUrl}/smoke`);
    expect(viaStandby.body).toMatchObject({ ok: true, host: 'blue-1' });
    await haproxyCommand(sock, 'set server standby/blue-1 state maint');
  });

  it('loses no request and no write while a server with requests in flight is drained and taken out', async () => {
    await allLiveUp();
    const sock = lab.haproxySocket;
    const load = startLoad({ url: lab.liveUrl, rps: 200, writeRatio: 0.3, dbPath: lab.dbPath });
    let stopped = false;
    try {
      await until('traffic', () => load.progress().requests > 200);
      // Slow reads spread round-robin: some are in flight on green-1 when it starts draining.
      const slow = Array.from({ length: 8 }, () => getJson(`${lab.liveUrl}/slow?ms=2500`));
      await until('a slow request on green-1', async () => Number((await serverRow(sock, 'live', 'green-1'))?.scur) > 0);
      expect((await haproxyCommand(sock, 'set server live/green-1 state drain')).trim()).toBe('');
      const draining = await serverRow(sock, 'live', 'green-1');
      expect(draining?.status).toBe('DRAIN');
      expect(Number(draining?.scur)).toBeGreaterThan(0);
      await until('green-1 drained', async () => (await serverRow(sock, 'live', 'green-1'))?.scur === '0', 10_000);
      await haproxyCommand(sock, 'set server live/green-1 state maint');
      await stopApp(dir, 'green-1');
      const slowResults = await Promise.all(slow);
      expect(slowResults.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(slowResults.some((r) => r.body.host === 'green-1')).toBe(true);
      await new Promise((r) => setTimeout(r, 1000));
      await startApp(dir, 'green-1');
      await haproxyCommand(sock, 'set server live/green-1 state ready');
      await until('green-1 UP again', async () => (await serverRow(sock, 'live', 'green-1'))?.status === 'UP');
      await new Promise((r) => setTimeout(r, 500));
      const report = await load.stop();
      stopped = true;
      expect(report.failures).toEqual({ count: 0, list: [] });
      expect(report.lostWrites).toEqual([]);
      expect(report.writesAcknowledged).toBeGreaterThan(100);
      expect(report.writesFound).toBe(report.writesAcknowledged);
      expectSteadyLoad(report, 2);
      expect(report.releasesPerSecond.length).toBeGreaterThan(2);
    } finally {
      if (!stopped) await load.stop().catch(() => undefined);
    }
  });

  it('injects and undoes faults: sshd stopped, sshd frozen, app stopped, Runtime API unreachable', async () => {
    await stopSshd(dir, 'green-2');
    await expect(ssh('green-2', 'true')).rejects.toThrow(/ECONNREFUSED/);
    await startSshdAgain(dir, 'green-2');
    expect((await ssh('green-2', 'true')).code).toBe(0);

    freezeHost(dir, 'green-2');
    const connected = await new Promise<boolean>((resolve) => {
      const s = net.connect(host('green-2').sshPort, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    expect(connected).toBe(true);
    await expect(ssh('green-2', 'true', lab.knownHostsPath, 1500)).rejects.toThrow(/timed out/i);
    expect((await labStatus(dir)).hosts.find((h) => h.name === 'green-2')?.sshd.frozen).toBe(true);
    thawHost(dir, 'green-2');
    expect((await ssh('green-2', 'true')).code).toBe(0);

    await stopApp(dir, 'blue-1');
    await until('blue-1 DOWN', async () => (await serverRow(lab.haproxySocket, 'live', 'blue-1'))?.status === 'DOWN');
    await startApp(dir, 'blue-1');
    await until('blue-1 UP', async () => (await serverRow(lab.haproxySocket, 'live', 'blue-1'))?.status === 'UP');

    hideHaproxyApi(dir);
    await expect(haproxyCommand(lab.haproxySocket, 'show info')).rejects.toThrow(/ENOENT/);
    expect((await getJson(`${lab.liveUrl}/`)).status).toBe(200);
    restoreHaproxyApi(dir);
    expect(await haproxyCommand(lab.haproxySocket, 'show info')).toMatch(/Name: HAProxy/);
    expect((await labStatus(dir)).up).toBe(true);
  });

  it('reports an already running lab on a second up instead of starting another', async () => {
    const again = await labUp({ dir, hostsPerCluster: 2, basePort: lab.basePort });
    expect(again.alreadyUp).toBe(true);
    await expect(labUp({ dir, hostsPerCluster: 3 })).rejects.toThrow(/run "lab down" first/);
  });

  it('lab up after a crash stops the leftover processes and starts a fresh lab', async () => {
    const before = await labStatus(dir);
    process.kill(before.haproxy.pid!, 'SIGKILL');
    await until('haproxy gone', () => !processExists(before.haproxy.pid!));
    expect((await labStatus(dir)).up).toBe(false);
    const again = await labUp({ dir, hostsPerCluster: 2, basePort: lab.basePort });
    expect(again.alreadyUp).toBe(false);
    const oldPids = before.hosts.flatMap((h) => [h.sshd.pid!, h.app.pid!]);
    expect(oldPids.filter(processExists)).toEqual([]);
    const after = await labStatus(dir);
    expect(after.up).toBe(true);
    expect(after.hosts.map((h) => h.currentRelease)).toEqual(['v1', 'v1', 'v1', 'v1']);
  });

  it("drops open SSH connections from the hosts' side; sshd keeps accepting and the apps keep serving", async () => {
    const s = await labStatus(dir);
    const listener = s.hosts.find((h) => h.name === 'blue-1')!.sshd.pid!;
    const apps = s.hosts.map((h) => h.app.pid!);
    const hanging = ssh('blue-1', 'sleep 600').then(
      (r) => `exit ${r.code}`,
      (err: Error) => err.message,
    );
    await until('session process', () => descendants([listener]).length > 0);

    expect(await dropSshConnections(dir)).toBeGreaterThanOrEqual(1);
    expect(await hanging).not.toBe('exit 0');
    expect(descendants([listener])).toEqual([]);
    expect(processExists(listener)).toBe(true);
    expect(apps.every(processExists)).toBe(true);
    expect((await ssh('blue-1', 'echo again')).stdout).toBe('again\n');
  });

  it('lab down leaves no process and no listener behind, and a second down does nothing', async () => {
    const s = await labStatus(dir);
    const roots = [s.haproxy.pid!, ...s.hosts.flatMap((h) => [h.sshd.pid!, h.app.pid!])];
    // An open SSH session forks a process of its own: down must stop that one too.
    const hanging = ssh('green-2', 'sleep 600').catch(() => undefined);
    await until('session process', () => descendants([s.hosts.find((h) => h.name === 'green-2')!.sshd.pid!]).length > 0);
    expect(roots.every(processExists)).toBe(true);
    // Children come and go while a session starts (pre-auth processes exit): snapshot them all.
    const pids = [...roots, ...descendants(roots)];
    const ports = allPorts(describeLab(dir, lab.basePort, 2));

    await labDown(dir);
    await hanging;
    expect(pids.filter(processExists)).toEqual([]);
    const listening = listeningPorts();
    expect(ports.filter((p) => listening.has(p))).toEqual([]);
    expect(fs.existsSync(lab.haproxySocket)).toBe(false);
    expect((await labDown(dir)).stopped).toEqual([]);
    expect((await labStatus(dir)).exists).toBe(false);
  });
});
