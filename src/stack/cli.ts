// `npm run stack -- up|down|status`: PostgreSQL, a Temporal server on it, Temporal Web and N workers.
import { Command, InvalidArgumentError } from 'commander';
import { defaultStackDir, stackDown, stackStatus, stackUp, type StackStatus } from './stack';

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > 65535) throw new InvalidArgumentError(`a whole number >= ${min}`);
  return n;
};

function describe(s: StackStatus): string {
  if (!s.exists) return `no stack in ${s.dir}`;
  const st = s.state!;
  const mark = (ok: boolean | undefined) => (ok ? 'up' : 'DOWN');
  const lines = [
    `stack in ${s.dir}: ${s.up ? 'up' : `NOT fully up (${s.problems.join('; ')})`}`,
    `  Temporal     ${s.temporal?.address}   ${mark(s.temporal?.reachable)}   server ${s.temporal?.serverVersion ?? st.server.version}, pid ${st.server.pid ?? '-'}   namespace ${st.namespace}`,
    `  Temporal Web ${s.web ? `${s.web.url}   ${mark(s.web.answering)}   pid ${s.web.pid ?? '-'}` : `none: ${st.uiSkipped}`}`,
    `  PostgreSQL   ${s.postgres?.address}   ${mark(s.postgres?.ready)}   user ${st.pg.user}, databases temporal + temporal_visibility, data ${st.pg.dir}, pid ${s.postgres?.pid ?? '-'}`,
    `  workers      ${s.workers.length ? s.workers.map((w) => `#${w.index} pid ${w.pid} ${w.running ? 'up' : 'DOWN'}`).join(', ') : 'none'}   task queue ${st.taskQueue}`,
    `  logs         ${st.dir}/logs/   (PostgreSQL: ${st.pg.log})`,
    '',
    `  export TEMPORAL_ADDRESS=${s.temporal?.address} TEMPORAL_NAMESPACE=${st.namespace} BG_TASK_QUEUE=${st.taskQueue}${s.web ? ` TEMPORAL_WEB_URL=${s.web.url}` : ''}`,
  ];
  return lines.join('\n');
}

const program = new Command('stack')
  .description('A production-shaped Temporal stack on this machine: PostgreSQL, Temporal server, Temporal Web, bluegreen workers')
  .showHelpAfterError();

program
  .command('up')
  .description('start the stack (idempotent: says so if already up)')
  .option('--dir <dir>', 'where the stack keeps its config, logs and state (default BG_STACK_DIR or .stack)')
  .option('--workers <n>', 'bluegreen workers on the task queue', int(0), 2)
  .option('--port <port>', 'Temporal frontend gRPC port (0: any free port)', int(0), 7233)
  .option('--ui-port <port>', 'Temporal Web port (0: any free port)', int(0), 8233)
  .option('--no-ui', 'no Temporal Web')
  .option('--pg-port <port>', 'PostgreSQL port (default: any free port)', int(0), 0)
  .option('--namespace <ns>', 'Temporal namespace', 'default')
  .option('--task-queue <name>', "the workers' task queue", 'bluegreen')
  .option('--ssh-key <file>', "workers' SSH private key (default BG_SSH_KEY, else the lab's)")
  .option('--known-hosts <file>', "workers' known_hosts (default BG_KNOWN_HOSTS, else the lab's)")
  .option('--json', 'machine-readable output')
  .action(
    async (o: {
      dir?: string;
      workers: number;
      port: number;
      uiPort: number;
      ui: boolean;
      pgPort: number;
      namespace: string;
      taskQueue: string;
      sshKey?: string;
      knownHosts?: string;
      json?: boolean;
    }) => {
      const t0 = Date.now();
      const log = (m: string) => console.error(`stack: +${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`);
      const r = await stackUp({ ...o, dir: o.dir ?? defaultStackDir(), log });
      const status = await stackStatus(r.state.dir);
      if (o.json) console.log(JSON.stringify({ ...status, alreadyUp: r.alreadyUp, elapsedMs: r.elapsedMs }, null, 2));
      else console.log(`${r.alreadyUp ? 'already up' : `up in ${(r.elapsedMs / 1000).toFixed(1)} s`}\n${describe(status)}`);
      if (!status.up) process.exitCode = 1;
    },
  );

program
  .command('down')
  .description('stop every process of the stack and remove its files (the database too)')
  .option('--dir <dir>', "the stack's directory (default BG_STACK_DIR or .stack)")
  .option('--json', 'machine-readable output')
  .action(async (o: { dir?: string; json?: boolean }) => {
    const t0 = Date.now();
    const r = await stackDown(o.dir ?? defaultStackDir());
    const elapsedMs = Date.now() - t0;
    if (o.json) console.log(JSON.stringify({ ...r, elapsedMs }));
    else console.log(`stack down: stopped ${r.stopped.length} processes in ${(elapsedMs / 1000).toFixed(1)} s, removed ${r.dir}`);
  });

program
  .command('status')
  .option('--dir <dir>', "the stack's directory (default BG_STACK_DIR or .stack)")
  .option('--json', 'machine-readable output')
  .action(async (o: { dir?: string; json?: boolean }) => {
    const s = await stackStatus(o.dir ?? defaultStackDir());
    console.log(o.json ? JSON.stringify(s, null, 2) : describe(s));
    if (!s.up) process.exitCode = 1;
  });

program.parseAsync().catch((e: Error) => {
  console.error(`stack: ${e.message}`);
  process.exit(1);
});
