// Where everything of a lab lives, and which ports it uses. Pure functions of (dir, basePort, N)
// so that up, down, status and faults agree without talking to each other.
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const DEFAULT_BASE_PORT = 22000;
export const DEFAULT_HOSTS_PER_CLUSTER = 2;
export const MAX_HOSTS = 200;
export const CLUSTERS = ['green', 'blue'] as const;
export type ClusterName = (typeof CLUSTERS)[number];
/** Which load balancer the lab runs in front of its hosts. */
export const LB_KINDS = ['haproxy', 'nginx'] as const;
export type LbKind = (typeof LB_KINDS)[number];

/** The repository root (src/lab/ is two levels below it). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function defaultLabDir(): string {
  return path.resolve(process.env.BG_LAB_DIR || path.join(repoRoot, '.lab'));
}

export function defaultBasePort(): number {
  const raw = process.env.BG_LAB_BASE_PORT;
  if (!raw) return DEFAULT_BASE_PORT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1024 || n > 65535 - 2 * MAX_HOSTS - 200) throw new Error(`BG_LAB_BASE_PORT=${raw}: not a usable port`);
  return n;
}

export interface LabHost {
  name: string;
  cluster: ClusterName;
  sshPort: number;
  appPort: number;
  /** The directory that plays this host's filesystem (BG_HOST_ROOT in its SSH sessions). */
  root: string;
}

export interface Lab {
  dir: string;
  basePort: number;
  hostsPerCluster: number;
  /** Who SSH sessions log in as (the deploy user when the lab was started as root). */
  user: string;
  /** The load balancer in front of the hosts. */
  lb: LbKind;
  planPath: string;
  keyPath: string;
  knownHostsPath: string;
  haproxySocket: string;
  liveUrl: string;
  standbyUrl: string;
  statsUrl: string;
  dbPath: string;
  hostScript: string;
  hosts: LabHost[];
  /** With nginx: the LB host, an sshd of its own (like an app host) in front of nginx's files. */
  lbHost?: LbHost;
}

export interface LbHost {
  name: 'lb';
  sshPort: number;
  /** Its filesystem: nginx.conf, upstreams/, run/, logs/, ssh/. */
  root: string;
}

// Port map (a lab spans 500 ports): base+80 live, +81 standby, +82 stats, +83 the nginx LB host's sshd; host i (green first,
// then blue) has its sshd on base+100+i and its app on base+100+MAX_HOSTS+i.
export const ports = {
  live: (base: number) => base + 80,
  standby: (base: number) => base + 81,
  stats: (base: number) => base + 82,
  lbSsh: (base: number) => base + 83,
  ssh: (base: number, i: number) => base + 100 + i,
  app: (base: number, i: number) => base + 100 + MAX_HOSTS + i,
};

export function labPaths(dir: string) {
  return {
    state: path.join(dir, 'state.json'),
    labJson: path.join(dir, 'lab.json'),
    plan: path.join(dir, 'plan.json'),
    keys: path.join(dir, 'keys'),
    key: path.join(dir, 'keys', 'id_ed25519'),
    authorizedKeys: path.join(dir, 'keys', 'authorized_keys'),
    knownHosts: path.join(dir, 'known_hosts'),
    bin: path.join(dir, 'bin'),
    hostScript: path.join(dir, 'bin', 'lab-host'),
    slowLogin: path.join(dir, 'bin', 'slow-login'),
    artifacts: path.join(dir, 'artifacts'),
    db: path.join(dir, 'db', 'app.sqlite'),
    hosts: path.join(dir, 'hosts'),
    haproxyDir: path.join(dir, 'haproxy'),
    haproxyCfg: path.join(dir, 'haproxy', 'haproxy.cfg'),
    haproxySocket: path.join(dir, 'haproxy', 'admin.sock'),
    haproxyHiddenSocket: path.join(dir, 'haproxy', 'admin.sock.unreachable'),
    haproxyLog: path.join(dir, 'haproxy', 'haproxy.log'),
    haproxyPid: path.join(dir, 'haproxy', 'haproxy.pid'),
    nginxDir: path.join(dir, 'nginx'),
    nginxConf: path.join(dir, 'nginx', 'nginx.conf'),
    nginxPid: path.join(dir, 'nginx', 'run', 'nginx.pid'),
    nginxLog: path.join(dir, 'nginx', 'logs', 'nginx.out'),
    liveUpstream: path.join(dir, 'nginx', 'upstreams', 'live.servers'),
    standbyUpstream: path.join(dir, 'nginx', 'upstreams', 'standby.servers'),
  };
}

export function hostPaths(root: string) {
  return {
    hostJson: path.join(root, 'host.json'),
    sshDir: path.join(root, 'ssh'),
    hostKey: path.join(root, 'ssh', 'ssh_host_ed25519_key'),
    sshdConfig: path.join(root, 'ssh', 'sshd_config'),
    sshdLog: path.join(root, 'logs', 'sshd.log'),
    appPid: path.join(root, 'app.pid'),
    restarts: path.join(root, 'restarts.log'),
    current: path.join(root, 'current'),
  };
}

export function describeLab(
  dir: string,
  basePort: number,
  hostsPerCluster: number,
  user = os.userInfo().username,
  lb: LbKind = 'haproxy',
): Lab {
  if (!Number.isInteger(hostsPerCluster) || hostsPerCluster < 1 || hostsPerCluster * 2 > MAX_HOSTS)
    throw new Error(`hosts per cluster must be 1..${MAX_HOSTS / 2}, got ${hostsPerCluster}`);
  const p = labPaths(dir);
  const hosts: LabHost[] = [];
  for (const cluster of CLUSTERS)
    for (let n = 1; n <= hostsPerCluster; n++) {
      const i = hosts.length;
      const name = `${cluster}-${n}`;
      hosts.push({ name, cluster, sshPort: ports.ssh(basePort, i), appPort: ports.app(basePort, i), root: path.join(p.hosts, name) });
    }
  return {
    dir,
    basePort,
    hostsPerCluster,
    user,
    planPath: p.plan,
    keyPath: p.key,
    knownHostsPath: p.knownHosts,
    haproxySocket: p.haproxySocket,
    liveUrl: `http://127.0.0.1:${ports.live(basePort)}`,
    standbyUrl: `http://127.0.0.1:${ports.standby(basePort)}`,
    statsUrl: `http://127.0.0.1:${ports.stats(basePort)}/`,
    dbPath: p.db,
    hostScript: p.hostScript,
    hosts,
    lb,
    ...(lb === 'nginx' ? { lbHost: { name: 'lb' as const, sshPort: ports.lbSsh(basePort), root: p.nginxDir } } : {}),
  };
}

export function allPorts(lab: Lab): number[] {
  const b = lab.basePort;
  return [
    ports.live(b),
    ports.standby(b),
    ports.stats(b),
    ...(lab.lbHost ? [lab.lbHost.sshPort] : []),
    ...lab.hosts.flatMap((h) => [h.sshPort, h.appPort]),
  ];
}
