// One lab per size for the bench: brought up (optionally with a slow login shell), checked after
// each run from the outside (the lab's own files and HAProxy, not the runner's word), torn down.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { haproxyFromConfig } from '../../src/adapters/haproxy/load-balancer';
import { isUp } from '../../src/activities/lb';
import { loadKnownHosts, type KnownHosts } from '../../src/adapters/ssh/known-hosts';
import { dropSshConnections, hostCurrentRelease, labDown, labUp, showStat, type LabUpResult } from '../../src/lab';
import { loadPlanInput } from '../../src/plan/load';
import type { Plan, PlanInput } from '../../src/plan/schema';
import { parsePlan } from '../../src/plan/validate';
import type { ParsedKey } from 'ssh2';
import { connect } from './ssh-conns';
import { parseLoginKey } from '../../src/adapters/ssh/signing-key';
import { eachBounded } from '../../src/activities/fleet';
import { checkHealth } from '../../src/adapters/http/checks';

export interface BenchLab {
  lab: LabUpResult;
  /** One SSH login plus `true`, as measured from here (shows the slow login shell is real). */
  loginMs: number;
  /** Every host logged into once and its app asked once, before either runner (see warmLab). */
  warmMs: number;
  plan(from: string, to: string, parallelism: number): Promise<Plan>;
  /** Problems seen from outside: hosts not on `release`, servers not UP in live or left in standby. */
  check(release: string): Promise<string[]>;
  /** HAProxy's `chkdown` (transitions to DOWN, entering maint included), summed over both pools' servers. */
  checkDowns(): Promise<number>;
  /** Ends every open SSH connection to the hosts, from their side; returns how many there were. */
  dropSshConnections(): Promise<number>;
  down(): Promise<void>;
}

export async function upLab(hostsPerCluster: number, basePort: number, slowLoginMs: number): Promise<BenchLab> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-bench-'));
  let lab: LabUpResult;
  try {
    lab = await labUp({ dir, hostsPerCluster, basePort, slowLoginMs });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const down = async () => {
    await labDown(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (lab.slowLoginMs !== slowLoginMs)
      throw new Error(`asked for a ${slowLoginMs} ms login shell, the lab reports ${lab.slowLoginMs} ms`);
    const loginMs = await measureLogin(lab);
    if (loginMs < slowLoginMs) throw new Error(`asked for a ${slowLoginMs} ms login shell but a login took ${loginMs} ms`);
    const warmMs = await warmLab(lab);
    return {
      lab,
      loginMs,
      warmMs,
      plan: async (from, to, parallelism) =>
        parsePlan({ ...((await loadPlanInput(lab.planPath)) as PlanInput), currentRelease: from, release: to, parallelism }),
      check: (release) => checkFleet(lab, release),
      checkDowns: () => checkDowns(lab),
      dropSshConnections: () => dropSshConnections(lab.dir),
      down,
    };
  } catch (err) {
    await down();
    throw err;
  }
}

/** The lab's hosts, its key and known_hosts, as a runner would read them. */
async function labAccess(lab: LabUpResult) {
  const input = (await loadPlanInput(lab.planPath)) as PlanInput;
  const hosts = Object.values(input.clusters).flatMap((c) => c.hosts);
  return { hosts, key: parseLoginKey(readFileSync(lab.keyPath)), knownHosts: await loadKnownHosts(lab.knownHostsPath) };
}

/** One SSH login to `host` and `true` on it. */
async function loginOnce(host: PlanInput['clusters'][string]['hosts'][number], key: ParsedKey, knownHosts: KnownHosts): Promise<void> {
  const c = await connect({ ...host.ssh, port: host.ssh.port ?? 22 }, key, knownHosts);
  try {
    await c.exec('true', 30_000);
  } finally {
    c.close();
  }
}

async function measureLogin(lab: LabUpResult): Promise<number> {
  const { hosts, key, knownHosts } = await labAccess(lab);
  const first = hosts[0];
  if (!first) throw new Error('the lab plan has no host');
  const t = performance.now();
  await loginOnce(first, key, knownHosts);
  return Math.round(performance.now() - t);
}

/**
 * A fresh lab is cold: a hundred sshd and app processes just started, their first login and first
 * request slower than the next. Whichever runner went first paid for it (at 2x50 its preflight took
 * 1-2 s longer, in either order), so every host gets one login and one health request first.
 */
async function warmLab(lab: LabUpResult): Promise<number> {
  const { hosts, key, knownHosts } = await labAccess(lab);
  const t = performance.now();
  await eachBounded(
    hosts,
    8,
    () => false,
    async (h) => {
      await loginOnce(h, key, knownHosts);
      await checkHealth(h.healthUrl, { timeoutMs: 10_000 });
    },
  );
  return Math.round(performance.now() - t);
}

/**
 * `chkdown` of every server in both backends. HAProxy counts a server entering maint as going
 * DOWN too: a run makes 3 such changes per host, and any count above that is a DOWN by check (a
 * restart the checks saw, which verify and live then wait `rise` checks for).
 */
async function checkDowns(lab: LabUpResult): Promise<number> {
  const servers = (await showStat(lab.haproxySocket)).filter(
    (r) => (r.pxname === 'live' || r.pxname === 'standby') && r.svname !== 'BACKEND' && r.svname !== 'FRONTEND',
  );
  const missing = servers.find((r) => r.chkdown === undefined);
  if (missing) throw new Error(`show stat: no chkdown column for ${missing.pxname}/${missing.svname}`);
  return servers.reduce((sum, r) => sum + (Number(r.chkdown) || 0), 0);
}

async function checkFleet(lab: LabUpResult, release: string): Promise<string[]> {
  const problems = lab.hosts
    .map((h) => [h.name, hostCurrentRelease(h.name, lab.dir)] as const)
    .filter(([, r]) => r !== release)
    .map(([name, r]) => `${name} runs ${r ?? 'nothing'}`);
  const lb = haproxyFromConfig({ runtimeApi: { socket: lab.haproxySocket }, liveBackend: 'live', standbyBackend: 'standby' });
  const [live, standby] = await Promise.all([lb.readServers('live'), lb.readServers('standby')]);
  for (const s of live) if (!isUp(s)) problems.push(`${s.server} is ${s.status} (admin ${s.admin}) in live`);
  for (const s of standby) if (s.admin !== 'maint') problems.push(`${s.server} is ${s.admin} in standby`);
  return problems;
}
