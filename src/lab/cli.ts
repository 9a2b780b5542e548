// `npm run lab -- up|down|status|load|fault ...`
import { Command, InvalidArgumentError } from 'commander';
import { labUp } from './up';
import { labDown } from './down';
import { labStatus, type LabStatus } from './status';
import { startLoad } from './loadgen';
import { applyFault, FAULTS, type FaultKind } from './faults';
import { defaultLabDir, LB_KINDS, type LbKind } from './layout';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive whole number');
  return n;
};
const nonNegInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number >= 0');
  return n;
};
const out = (json: boolean, data: unknown, text: string) => console.log(json ? JSON.stringify(data, null, 2) : text);

function describe(s: LabStatus): string {
  if (!s.exists) return `no lab in ${s.dir}`;
  const lines = [
    `lab in ${s.dir}: ${s.up ? 'up' : 'NOT fully up'}`,
    `  live ${s.liveUrl}   standby ${s.standbyUrl}   stats ${s.statsUrl}`,
    s.nginx
      ? `  nginx pid ${s.nginx.pid} ${s.nginx.running ? 'running' : 'STOPPED'}   LB host ssh :${s.nginx.sshPort} ${s.nginx.sshd.running ? 'up' : 'DOWN'}`
      : `  haproxy pid ${s.haproxy.pid} ${s.haproxy.running ? 'running' : 'STOPPED'}${s.haproxy.socketReachable ? '' : ', Runtime API socket MISSING'}`,
    `  plan ${s.planPath}   key ${s.keyPath}   known_hosts ${s.knownHostsPath}`,
    `  ssh user ${s.user} (shell ${s.userShell ?? '?'})   slow login ${s.slowLoginMs ? `${s.slowLoginMs} ms per session, one at a time per host` : 'off'}`,
  ];
  for (const h of s.hosts)
    lines.push(
      `  ${h.name.padEnd(10)} ssh :${h.sshPort} ${h.sshd.frozen ? 'FROZEN' : h.sshd.running ? 'up' : 'DOWN'}   app :${h.appPort} ${h.app.running ? 'up' : 'DOWN'}   release ${h.currentRelease ?? '-'}`,
    );
  return lines.join('\n');
}

const program = new Command('lab')
  .description('A blue/green fleet on this machine: OpenSSH hosts, HAProxy or nginx, sample app')
  .showHelpAfterError();

const lbKind = (v: string) => {
  if (!(LB_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`one of ${LB_KINDS.join(', ')}`);
  return v as LbKind;
};

program
  .command('up')
  .description('start the lab (idempotent)')
  .option('--hosts-per-cluster <n>', 'hosts in each of green and blue', int)
  .option('--base-port <port>', 'first port of the lab (default BG_LAB_BASE_PORT or 22000)', int)
  .option('--user <name>', 'log into the hosts as this user (as root default bgdeploy, created if missing; "root" for its slow shell)')
  .option('--slow-login-ms <ms>', 'every SSH session first waits this long, one at a time per host', nonNegInt)
  .option('--lb <kind>', 'the load balancer: haproxy (default) or nginx', lbKind)
  .option('--json', 'machine-readable output')
  .action(async (o: { hostsPerCluster?: number; basePort?: number; user?: string; slowLoginMs?: number; lb?: LbKind; json?: boolean }) => {
    const t0 = Date.now();
    const log = (m: string) => console.error(`lab: +${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`);
    const lab = await labUp({
      hostsPerCluster: o.hostsPerCluster,
      basePort: o.basePort,
      user: o.user,
      slowLoginMs: o.slowLoginMs,
      lb: o.lb,
      log,
    });
    const status = await labStatus(lab.dir);
    out(
      !!o.json,
      { ...status, alreadyUp: lab.alreadyUp, elapsedMs: lab.elapsedMs },
      `${lab.alreadyUp ? 'already up' : `up in ${(lab.elapsedMs / 1000).toFixed(1)} s`}\n${describe(status)}`,
    );
  });

program
  .command('down')
  .description('stop every process of the lab (idempotent)')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const t0 = Date.now();
    const r = await labDown();
    out(
      !!o.json,
      { ...r, elapsedMs: Date.now() - t0 },
      `lab down: stopped ${r.stopped.length} processes in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  });

program
  .command('status')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const s = await labStatus();
    out(!!o.json, s, describe(s));
    if (!s.up) process.exitCode = 1;
  });

program
  .command('load')
  .description('steady reads and writes through the live frontend; reports JSON')
  .option('--rps <n>', 'requests per second', int, 200)
  .option('--seconds <n>', 'duration', int, 10)
  .option('--write-ratio <r>', 'share of writes, 0..1', Number, 0.3)
  .option('--json', 'print the full report as JSON')
  .action(async (o: { rps: number; seconds: number; writeRatio: number; json?: boolean }) => {
    const s = await labStatus();
    if (!s.liveUrl) throw new Error(`no lab in ${defaultLabDir()}`);
    const load = startLoad({ url: s.liveUrl, rps: o.rps, writeRatio: o.writeRatio, dbPath: `${s.dir}/db/app.sqlite` });
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const r = await load.stop();
    out(
      !!o.json,
      r,
      `${r.requests} requests, ${r.failures.count} failures, ${r.writesAcknowledged} writes acknowledged, ${r.lostWrites.length} lost; p99 ${r.latencyMs.p99} ms`,
    );
    if (r.failures.count || r.lostWrites.length) process.exitCode = 1;
  });

program
  .command('fault')
  .description(`inject a fault: ${FAULTS.join(' | ')} (haproxy-api and lb-ssh take no host)`)
  .argument('<kind>', FAULTS.join('|'))
  .argument('[host]', 'host name, e.g. green-1')
  .option('--undo', 'undo the fault')
  .action(async (kind: string, host: string | undefined, o: { undo?: boolean }) => {
    if (!(FAULTS as readonly string[]).includes(kind))
      throw new InvalidArgumentError(`unknown fault "${kind}"; one of ${FAULTS.join(', ')}`);
    await applyFault(kind as FaultKind, host, !!o.undo);
    console.log(`fault ${kind}${host ? ` ${host}` : ''} ${o.undo ? 'undone' : 'injected'}`);
  });

program.parseAsync().catch((e: Error) => {
  console.error(`lab: ${e.message}`);
  process.exit(1);
});
