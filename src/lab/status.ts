// `lab status`: what runs, per process and per host, plus the paths a deployer needs.
import fs from 'node:fs';
import path from 'node:path';
import { defaultLabDir, hostPaths, labPaths } from './layout';
import { isAlive, procState, readPidFile } from './procs';
import { labOf, readState } from './state';
import { lookupUser } from './deploy-user';

export interface LabHostStatus {
  name: string;
  cluster: string;
  sshPort: number;
  appPort: number;
  root: string;
  currentRelease: string | null;
  sshd: { pid: number | null; running: boolean; frozen: boolean };
  app: { pid: number | null; running: boolean };
}

export interface LabStatus {
  dir: string;
  /** Every recorded process runs (faults that stopped or froze something make this false). */
  up: boolean;
  exists: boolean;
  basePort: number | null;
  hostsPerCluster: number | null;
  planPath: string;
  keyPath: string;
  knownHostsPath: string;
  haproxySocket: string;
  liveUrl: string | null;
  standbyUrl: string | null;
  statsUrl: string | null;
  strictModes: boolean;
  /** Who SSH sessions log in as, and that user's login shell. */
  user: string | null;
  userShell: string | null;
  /** The delay every SSH login costs on purpose (0: none). */
  slowLoginMs: number;
  /** The lab's load balancer kind (haproxy for a lab from before nginx). */
  lb: 'haproxy' | 'nginx';
  haproxy: { pid: number | null; running: boolean; socketReachable: boolean };
  /** With --lb nginx: nginx's master and the LB host's sshd. */
  nginx?: { pid: number | null; running: boolean; sshPort: number; sshd: { pid: number | null; running: boolean } };
  hosts: LabHostStatus[];
}

export async function labStatus(dir = defaultLabDir()): Promise<LabStatus> {
  dir = path.resolve(dir);
  const p = labPaths(dir);
  const state = readState(dir);
  const lab = state ? labOf(dir, state) : undefined;
  const hosts: LabHostStatus[] = (lab?.hosts ?? []).map((h) => {
    const hp = hostPaths(h.root);
    const sshdPid = state?.sshdPids[h.name];
    const appPid = readPidFile(hp.appPid);
    let currentRelease: string | null = null;
    try {
      currentRelease = path.basename(fs.readlinkSync(hp.current));
    } catch {}
    return {
      ...h,
      currentRelease,
      sshd: { pid: sshdPid ?? null, running: isAlive(sshdPid), frozen: sshdPid !== undefined && procState(sshdPid) === 'T' },
      app: { pid: appPid ?? null, running: isAlive(appPid) },
    };
  });
  const haproxyRunning = isAlive(state?.haproxyPid);
  const nginx = lab?.lbHost
    ? {
        pid: state?.nginxPid ?? null,
        running: isAlive(state?.nginxPid),
        sshPort: lab.lbHost.sshPort,
        sshd: { pid: state?.lbSshdPid ?? null, running: isAlive(state?.lbSshdPid) },
      }
    : undefined;
  const lbUp = nginx ? nginx.running && nginx.sshd.running : haproxyRunning && fs.existsSync(p.haproxySocket);
  let strictModes = true;
  try {
    strictModes = !/^StrictModes no$/m.test(fs.readFileSync(hostPaths(hosts[0]!.root).sshdConfig, 'utf8'));
  } catch {}
  return {
    dir,
    exists: !!state,
    up: !!state && lbUp && hosts.every((h) => h.sshd.running && !h.sshd.frozen && h.app.running),
    basePort: state?.basePort ?? null,
    hostsPerCluster: state?.hostsPerCluster ?? null,
    planPath: p.plan,
    keyPath: p.key,
    knownHostsPath: p.knownHosts,
    haproxySocket: p.haproxySocket,
    liveUrl: lab?.liveUrl ?? null,
    standbyUrl: lab?.standbyUrl ?? null,
    statsUrl: lab?.statsUrl ?? null,
    strictModes,
    user: lab?.user ?? null,
    userShell: (lab && lookupUser(lab.user)?.shell) || null,
    slowLoginMs: state?.slowLoginMs ?? 0,
    lb: lab?.lb ?? 'haproxy',
    haproxy: { pid: state?.haproxyPid ?? null, running: haproxyRunning, socketReachable: fs.existsSync(p.haproxySocket) },
    ...(nginx ? { nginx } : {}),
    hosts,
  };
}
