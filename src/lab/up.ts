// `lab up`: keys, hosts (sshd + app on v1), HAProxy, plan.json. Idempotent: a lab that is fully up
// is reported as is; leftovers of a dead or half-started one are cleaned up first.
import fs from 'node:fs';
import path from 'node:path';
import {
  allPorts,
  defaultBasePort,
  defaultLabDir,
  DEFAULT_HOSTS_PER_CLUSTER,
  describeLab,
  hostPaths,
  labPaths,
  type Lab,
  type LbKind,
} from './layout';
import { isPortFree, mapLimit } from './procs';
import { generateKey, knownHostsLine, sshdConfig, startSshd, strictModesAccept } from './sshd';
import { haproxyConfig, showStat, startHaproxy } from './haproxy';
import { readUpstream, startNginx, writeNginxFiles } from './nginx';
import { writeArtifacts, writeHostScript, writeLabJson } from './releases';
import { writePlan } from './plan';
import { labOf, readState, writeState, type LabState } from './state';
import { checkReachable, chooseLabUser, currentUser, ensureLabUser, giveTo, giveTreeTo, type LabUser } from './deploy-user';
import { runHostScript } from './host-script';
import { validSlowLoginMs, writeSlowLoginScript } from './slow-login';
import { labDown } from './down';
import { labStatus } from './status';
import { openDb, initSchema } from './host/db.mjs';

export interface LabUpOptions {
  dir?: string;
  hostsPerCluster?: number;
  basePort?: number;
  /**
   * Who the hosts are logged into as. Default: BG_LAB_USER, else as root the non-root deploy user
   * `bgdeploy` (created if missing; login shell /bin/sh), else the current user.
   */
  user?: string;
  /** Each SSH session first waits this long under a per-host lock (default BG_LAB_SLOW_LOGIN_MS or 0). */
  slowLoginMs?: number;
  /** The load balancer in front of the hosts (default haproxy). */
  lb?: LbKind;
  /** Called with progress lines (the CLI prints them to stderr). */
  log?: (msg: string) => void;
}

export type LabUpResult = Lab & { alreadyUp: boolean; strictModes: boolean; slowLoginMs: number; elapsedMs: number };

export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  const t0 = Date.now();
  const dir = path.resolve(opts.dir ?? defaultLabDir());
  const log = opts.log ?? (() => {});
  const envSlow = process.env.BG_LAB_SLOW_LOGIN_MS;
  const slowLoginMs = opts.slowLoginMs ?? (envSlow ? validSlowLoginMs(Number(envSlow)) : undefined);
  if (slowLoginMs !== undefined) validSlowLoginMs(slowLoginMs);
  const existing = readState(dir);
  if (existing) {
    const status = await labStatus(dir);
    const same =
      (opts.hostsPerCluster ?? existing.hostsPerCluster) === existing.hostsPerCluster &&
      (opts.basePort ?? existing.basePort) === existing.basePort &&
      (opts.user ?? existing.user) === existing.user &&
      (slowLoginMs ?? existing.slowLoginMs ?? 0) === (existing.slowLoginMs ?? 0) &&
      (opts.lb ?? existing.lb ?? 'haproxy') === (existing.lb ?? 'haproxy');
    if (status.up && same) {
      const lab = labOf(dir, existing);
      return {
        ...lab,
        alreadyUp: true,
        strictModes: status.strictModes,
        slowLoginMs: existing.slowLoginMs ?? 0,
        elapsedMs: Date.now() - t0,
      };
    }
    if (status.up)
      throw new Error(
        `a lab with ${existing.hostsPerCluster} hosts per cluster behind ${existing.lb ?? 'haproxy'} on base port ${existing.basePort} (user ${existing.user}, ` +
          `slow login ${existing.slowLoginMs ?? 0} ms) is up in ${dir}; run "lab down" first`,
      );
    log('cleaning up a lab that is no longer (fully) running');
    await labDown(dir);
  }

  const userName = chooseLabUser(opts.user);
  const user = userName === currentUser().name ? currentUser() : await ensureLabUser(userName, log);
  const lab = describeLab(
    dir,
    opts.basePort ?? defaultBasePort(),
    opts.hostsPerCluster ?? DEFAULT_HOSTS_PER_CLUSTER,
    user.name,
    opts.lb ?? 'haproxy',
  );
  const busy: number[] = [];
  for (const port of allPorts(lab)) if (!(await isPortFree(port))) busy.push(port);
  if (busy.length)
    throw new Error(`ports in use on 127.0.0.1: ${busy.join(', ')} (choose another base port: BG_LAB_BASE_PORT or --base-port)`);

  const p = labPaths(dir);
  // Only the lab's own entries are removed: BG_LAB_DIR may point at a directory holding other things.
  for (const f of [
    p.hosts,
    p.artifacts,
    path.dirname(p.db),
    p.haproxyDir,
    p.nginxDir,
    p.bin,
    p.keys,
    p.knownHosts,
    p.plan,
    p.state,
    p.labJson,
  ])
    fs.rmSync(f, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(p.haproxyDir, { recursive: true, mode: 0o700 });
  // Searchable by the lab's user: sshd reads authorized_keys as that user, the apps open the db.
  for (const d of [p.keys, p.hosts, path.dirname(p.db)]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });

  const state: LabState = {
    basePort: lab.basePort,
    hostsPerCluster: lab.hostsPerCluster,
    startedAt: new Date().toISOString(),
    user: user.name,
    lb: lab.lb,
    slowLoginMs: slowLoginMs ?? 0,
    sshdPids: {},
    sshdStopped: [],
  };
  writeState(dir, state);
  try {
    return await bringUp(lab, user, state, log, t0);
  } catch (e) {
    log(`lab up failed, cleaning up: ${(e as Error).message}`);
    await labDown(dir);
    throw e;
  }
}

async function bringUp(lab: Lab, user: LabUser, state: LabState, log: (m: string) => void, t0: number): Promise<LabUpResult> {
  const p = labPaths(lab.dir);
  const labJson = writeLabJson(lab.dir);
  writeArtifacts(lab.dir);
  writeHostScript(lab.dir);
  const slowLoginMs = state.slowLoginMs ?? 0;
  const slowLogin = slowLoginMs ? { script: writeSlowLoginScript(lab.dir), ms: slowLoginMs } : undefined;
  await checkReachable(user, [process.execPath, p.labJson, p.hostScript, path.join(labJson.betterSqlite3, 'package.json')]);
  const db = openDb(p.db, labJson.betterSqlite3);
  initSchema(db);
  db.close();
  // The apps write it as the lab's user; WAL needs the directory too (-wal and -shm are created there).
  giveTreeTo(user, path.dirname(p.db));

  log(`keys for ${lab.hosts.length} hosts (logging in as ${user.name})`);
  const clientPub = await generateKey(p.key, `bluegreen-lab@${lab.user}`);
  // Readable by the user (sshd reads it as them); the private key stays 0600, root's.
  fs.writeFileSync(p.authorizedKeys, `${clientPub}\n`, { mode: 0o644 });
  const strictModes = strictModesAccept(p.authorizedKeys, user);
  await mapLimit(lab.hosts, 8, async (h) => {
    const hp = hostPaths(h.root);
    fs.mkdirSync(hp.sshDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(h.root, 'releases'), { recursive: true });
    fs.mkdirSync(path.join(h.root, 'logs'), { recursive: true });
    fs.writeFileSync(hp.hostJson, JSON.stringify({ name: h.name, cluster: h.cluster, appPort: h.appPort, labDir: lab.dir }) + '\n');
    // The host's filesystem is the deploy user's, as on a real server; its ssh/ (host key) stays root's.
    giveTo(user, h.root, path.join(h.root, 'releases'), path.join(h.root, 'logs'));
    await generateKey(hp.hostKey, `${h.name}@bluegreen-lab`);
    fs.writeFileSync(hp.sshdConfig, sshdConfig(lab, h, { authorizedKeys: p.authorizedKeys, strictModes, slowLogin }));
  });
  const lbHost = lab.lbHost;
  if (lbHost) {
    writeNginxFiles(lab, user);
    await generateKey(hostPaths(lbHost.root).hostKey, `lb@bluegreen-lab`);
    fs.writeFileSync(
      hostPaths(lbHost.root).sshdConfig,
      sshdConfig(lab, lbHost, { authorizedKeys: p.authorizedKeys, strictModes, slowLogin }),
    );
  }
  fs.writeFileSync(p.knownHosts, [...lab.hosts, ...(lbHost ? [lbHost] : [])].map(knownHostsLine).join('\n') + '\n');

  log('starting sshd on every host');
  await mapLimit(lab.hosts, 8, async (h) => {
    state.sshdPids[h.name] = await startSshd(h);
    writeState(lab.dir, state);
  });
  writeState(lab.dir, state);

  log('installing v1 on every host');
  // Locally rather than over SSH: same script, same user, same effect, and much faster for 50 hosts.
  await mapLimit(lab.hosts, 4, (h) =>
    runHostScript(lab.dir, h.root, ['install', 'v1'], user).catch((e: Error & { stderr?: string }) => {
      throw new Error(`installing v1 on ${h.name} failed: ${e.stderr || e.message}`);
    }),
  );

  if (lbHost) {
    log("starting nginx and the LB host's sshd");
    state.lbSshdPid = await startSshd(lbHost);
    writeState(lab.dir, state);
    state.nginxPid = await startNginx(lab, user);
    writeState(lab.dir, state);
    log('waiting until every host answers through nginx');
    await waitAllServing(lab);
  } else {
    log('starting haproxy');
    fs.writeFileSync(p.haproxyCfg, haproxyConfig(lab));
    state.haproxyPid = await startHaproxy(lab);
    writeState(lab.dir, state);
    log('waiting until HAProxy reports every server UP');
    await waitAllUp(lab);
  }

  writePlan(lab);
  return { ...lab, alreadyUp: false, strictModes, slowLoginMs, elapsedMs: Date.now() - t0 };
}

/** nginx checks nothing itself: until every app is healthy and listed ready in the live file, and nginx answers. */
async function waitAllServing(lab: Lab, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const status = (url: string) =>
    fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status,
      () => 0,
    );
  for (;;) {
    const live = readUpstream(lab.dir, 'live');
    const notServing: string[] = [];
    for (const h of lab.hosts)
      if (live[h.name] !== 'ready' || (await status(`http://127.0.0.1:${h.appPort}/health`)) !== 200) notServing.push(h.name);
    if (notServing.length === 0 && (await status(`${lab.liveUrl}/health`)) === 200) return;
    if (Date.now() > deadline)
      throw new Error(`not serving through nginx after ${timeoutMs} ms: ${notServing.join(', ') || 'the live frontend'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Until every server of the live backend passes its health checks (rise 2 at 500 ms). */
async function waitAllUp(lab: Lab, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await showStat(lab.haproxySocket, 'live');
    const notUp = lab.hosts.filter((h) => rows.find((r) => r.svname === h.name)?.status !== 'UP');
    if (notUp.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not UP in haproxy after ${timeoutMs} ms: ${notUp.map((h) => h.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
