// The nginx adapter's contract on a real nginx (Debian's 1.22) reached over a real sshd: the lab
// with `--lb nginx`, whose LB host is an sshd of its own in front of nginx's upstream files.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { labDown, labPaths, labUp, readUpstream, resetUpstreams, startLbSshdAgain, stopLbSshd, type Lab } from '../../../src/lab';
import { labUserOf } from '../../../src/lab/host-script';
import { readState } from '../../../src/lab/state';
import { createSshClient, type SshClient } from '../../../src/adapters/ssh/client';
import { loadKnownHosts } from '../../../src/adapters/ssh/known-hosts';
import { drainAndWait, ensureState } from '../../../src/activities/lb';
import {
  LbCommandError,
  LbProtocolError,
  LbUnavailableError,
  UnsafeLbNameError,
  type LbConfig,
  type ServerState,
} from '../../../src/ports/lb';
import { lbFromConfig } from '../../../src/adapters/load-balancer';
import type { NginxLoadBalancer } from '../../../src/adapters/nginx/nginx';
import { parsePlan } from '../../../src/plan/validate';
import { request } from '../../support/haproxy';
import { tempLabDir, testBasePort } from '../../support/lab-tools';

let lab: Lab;
let ssh: SshClient;
let config: Extract<LbConfig, { type: 'nginx' }>;
let lb: NginxLoadBalancer;
let execs = 0;
let p: ReturnType<typeof labPaths>;

const byName = (rows: ServerState[]) => Object.fromEntries(rows.map((r) => [r.server, r]));
/** Reloads nginx has logged (each one is a SIGHUP to its master). */
const reloads = () =>
  (fs.readFileSync(path.join(p.nginxDir, 'logs', 'error.log'), 'utf8').match(/signal 1 \(SIGHUP\) received/g) ?? []).length;
const nginxPid = () => readState(lab.dir)!.nginxPid!;

beforeAll(async () => {
  lab = await labUp({ dir: tempLabDir('nginx-lb'), hostsPerCluster: 2, basePort: testBasePort(15), lb: 'nginx' });
  p = labPaths(lab.dir);
  const plan = parsePlan({ ...JSON.parse(fs.readFileSync(lab.planPath, 'utf8')) });
  if (plan.loadBalancer.type !== 'nginx') throw new Error('the lab plan should use nginx');
  config = plan.loadBalancer;
  const client = createSshClient({ privateKey: fs.readFileSync(lab.keyPath), knownHosts: await loadKnownHosts(lab.knownHostsPath) });
  ssh = client;
  const counting = { exec: (...args: Parameters<SshClient['exec']>) => (execs++, client.exec(...args)) };
  lb = lbFromConfig(config, { ssh: counting }) as NginxLoadBalancer;
});

afterAll(async () => {
  ssh?.close();
  if (lab) {
    await labDown(lab.dir);
    fs.rmSync(lab.dir, { recursive: true, force: true });
  }
});

beforeEach(async () => {
  await startLbSshdAgain(lab.dir);
  await resetUpstreams(lab, labUserOf(lab.dir), nginxPid());
});

describe('nginx adapter on a real nginx over SSH', () => {
  it('reads every server of each pool with its admin state, a health status and sessions', async () => {
    const live = byName(await lb.readServers('live'));
    expect(Object.keys(live)).toEqual(['green-1', 'green-2', 'blue-1', 'blue-2']);
    expect(live['green-1']).toEqual({ pool: 'live', server: 'green-1', admin: 'ready', status: 'UP', sessions: 0 });
    const standby = await lb.readServers('standby');
    expect(standby.map((s) => `${s.server} ${s.admin} ${s.status}`)).toEqual([
      'green-1 maint MAINT',
      'green-2 maint MAINT',
      'blue-1 maint MAINT',
      'blue-2 maint MAINT',
    ]);
    await expect(lb.ping()).resolves.toBeUndefined();
  });

  it('sets drain, maint and ready idempotently: exact file, one reload per change of effect, none on a repeat', async () => {
    const before = reloads();
    await lb.setState('live', 'green-1', 'drain');
    const drained = fs.readFileSync(p.liveUpstream, 'utf8');
    expect(drained).toContain('server 127.0.0.1:' + lab.hosts[0]!.appPort + ' down; # bluegreen:green-1 drain\n');
    expect(reloads()).toBe(before + 1);
    // The same call again (a retry after a crash) writes the same bytes and does not reload.
    await lb.setState('live', 'green-1', 'drain');
    expect(fs.readFileSync(p.liveUpstream, 'utf8')).toBe(drained);
    expect(reloads()).toBe(before + 1);
    // drain -> maint changes only the marker: nginx already sends it nothing, no reload.
    await lb.setState('live', 'green-1', 'maint');
    expect(readUpstream(lab.dir, 'live')['green-1']).toBe('maint');
    expect(reloads()).toBe(before + 1);
    expect(byName(await lb.readServers('live'))['green-1']).toMatchObject({ admin: 'maint', status: 'MAINT' });
    // Several servers at once: one write, one reload.
    expect(await ensureState(lb, 'standby', ['green-1', 'green-2'], 'ready')).toEqual(['green-1', 'green-2']);
    expect(reloads()).toBe(before + 2);
    expect(await ensureState(lb, 'standby', ['green-1', 'green-2'], 'ready')).toEqual([]);
    expect(reloads()).toBe(before + 2);
    // And nginx really routes by it: the standby frontend now answers from green only.
    const hosts = new Set((await Promise.all(Array.from({ length: 8 }, () => request(`${lab.standbyUrl}/`)))).map((r) => r.host));
    expect([...hosts].sort()).toEqual(['green-1', 'green-2']);
    // No temp or backup file is left behind.
    expect(fs.readdirSync(path.dirname(p.liveUpstream)).filter((f) => /tmp|prev|expect/.test(f))).toEqual([]);
  });

  it('a drained server keeps its in-flight requests: the drain waits for the old workers, and no request fails', async () => {
    // A slow request on every live server, so one of them is on green-1 whatever the round robin
    // does; 3 s, so that they are still in flight when the drain first looks, on a busy machine too.
    let slowDoneAt = 0;
    const slow = Promise.all(Array.from({ length: 4 }, () => request(`${lab.liveUrl}/slow?ms=3000`))).then(
      (r) => ((slowDoneAt = Date.now()), r),
    );
    await new Promise((r) => setTimeout(r, 200));
    const seen: number[] = [];
    const done = await drainAndWait(lb, ['green-1', 'green-2'], {
      deadlineMs: 10_000,
      pollMs: 100,
      onProgress: (x) => seen.push(x.sessions['green-1']!),
    });
    const drainedAt = Date.now();
    expect(seen[0]).toBeGreaterThan(0);
    // Drained only once the old worker had sent those answers (poll and SSH add a little after).
    expect(slowDoneAt).toBeGreaterThan(0);
    expect(drainedAt).toBeGreaterThanOrEqual(slowDoneAt - 50);
    expect(done.sessions).toEqual({ 'green-1': 0, 'green-2': 0 });
    expect((await slow).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Users are served by blue only from now on.
    const after = await Promise.all(Array.from({ length: 8 }, () => request(`${lab.liveUrl}/`)));
    expect(new Set(after.map((r) => r.host))).toEqual(new Set(['blue-1', 'blue-2']));
  });

  it('a change written but never reloaded (crash before the reload) reads as not applied, and the retry reloads it', async () => {
    const before = reloads();
    // What a worker killed between the rename and the reload leaves: the file changed, nginx not.
    fs.writeFileSync(
      p.liveUpstream,
      fs.readFileSync(p.liveUpstream, 'utf8').replace(/(\d+); # bluegreen:blue-1 ready/, '$1 down; # bluegreen:blue-1 drain'),
    );
    fs.writeFileSync(
      `${p.liveUpstream}.bluegreen-applied`,
      fs
        .readFileSync(`${p.standbyUpstream}`, 'utf8')
        .replace(/ down;/g, ';')
        .replace(/ maint$/gm, ' ready'),
    );
    expect(byName(await lb.readServers('live'))['blue-1']!.admin).toBe('ready');
    expect(await ensureState(lb, 'live', ['blue-1'], 'drain')).toEqual(['blue-1']);
    expect(reloads()).toBe(before + 1);
    expect(byName(await lb.readServers('live'))['blue-1']!.admin).toBe('drain');
  });

  it("a config that fails nginx -t is never reloaded: the previous file is back and the error carries nginx's message", async () => {
    const conf = fs.readFileSync(p.nginxConf, 'utf8');
    const file = fs.readFileSync(p.liveUpstream, 'utf8');
    const before = reloads();
    const workers = () => fs.readFileSync(`/proc/${nginxPid()}/task/${nginxPid()}/children`, 'utf8').trim();
    const workersBefore = workers();
    fs.writeFileSync(p.nginxConf, conf.replace('worker_processes 1;', 'worker_processes 1;\nbluegreen_bogus_directive on;'));
    try {
      const err = await lb.setState('live', 'green-2', 'drain').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LbCommandError);
      expect((err as Error).message).toMatch(
        /nginx -t .* failed, so the previous file is back and nginx was not reloaded: .*unknown directive "bluegreen_bogus_directive"/,
      );
      expect(fs.readFileSync(p.liveUpstream, 'utf8')).toBe(file);
      expect(reloads()).toBe(before);
      expect(workers()).toBe(workersBefore);
      expect(byName(await lb.readServers('live'))['green-2']!.admin).toBe('ready');
    } finally {
      fs.writeFileSync(p.nginxConf, conf);
    }
  });

  it('refuses a file it did not write, and a server the file places elsewhere than the plan, changing nothing', async () => {
    const file = fs.readFileSync(p.liveUpstream, 'utf8');
    fs.writeFileSync(p.liveUpstream, `${file}server 10.9.9.9:80 backup;\n`);
    await expect(lb.setState('live', 'green-1', 'drain')).rejects.toThrow(LbProtocolError);
    await expect(lb.readServers('live')).rejects.toThrow(/line 6 is not a server line bluegreen writes/);
    fs.writeFileSync(p.liveUpstream, file.replace(`127.0.0.1:${lab.hosts[1]!.appPort};`, '127.0.0.1:9;'));
    await expect(lb.setState('live', 'green-1', 'drain')).rejects.toThrow(
      /green-2 is at 127\.0\.0\.1:9 in the file but at 127\.0\.0\.1:\d+ in the plan/,
    );
    expect(fs.readFileSync(p.liveUpstream, 'utf8')).toContain('127.0.0.1:9;');
    fs.writeFileSync(p.liveUpstream, file);
  });

  it('checks names before anything reaches the LB host, and names a server the file lacks', async () => {
    const before = execs;
    const err = await lb.setState('live', "a'; touch /tmp/x; '", 'drain').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeLbNameError);
    expect(execs).toBe(before);
    await expect(lb.setState('live', 'zz', 'drain')).rejects.toThrow(
      /no such server in the file \(it has: green-1, green-2, blue-1, blue-2\)/,
    );
  });

  it('an LB host that refuses SSH is unavailable (retryable), and a missing upstream file is a command error', async () => {
    await stopLbSshd(lab.dir);
    // The pooled connection of the earlier tests may die under the first command (lost), then a new
    // one is refused: both are unavailable, so the activity retries.
    const first = await lb.readServers('live').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(LbUnavailableError);
    expect((first as Error).message).toMatch(/^load balancer API at nginx on \S+ unavailable: SSH_(REFUSED|LOST)/);
    const err = await lb.readServers('live').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbUnavailableError);
    expect((err as Error).message).toMatch(/^load balancer API at nginx on \S+ unavailable: SSH_REFUSED/);
    await startLbSshdAgain(lab.dir);
    const wrong = lbFromConfig({ ...config, standbyUpstreamFile: `${p.standbyUpstream}.nope` }, { ssh });
    await expect(wrong.ping()).rejects.toThrow(/no such file on the LB host; fix the plan's loadBalancer.standbyUpstreamFile/);
  });
});
