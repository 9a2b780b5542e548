// Benchmark, side by side: for each size one lab, the bluegreen deployment (worker process +
// Temporal) and the bare baseline (scripts/bench/baseline.ts: direct SSH and Runtime API calls) on
// the same lab, each under 200 req/s. Prints per case a table and one JSON line, then a summary.
// Usage: npm run bench -- [sizes, default 2,25,50] [--parallelism 4] [--slow-login-ms 1000]
//          [--slow-login-size 25] [--only bluegreen|baseline] [--baseline-first] [--rps 200] [--base-port 20000]
//          [--baseline-preflight-width N, default 0: all hosts at once] [--history-dir DIR] [--rounds N]
//          [--worker-per-run: a fresh worker for every bluegreen run, not one per size]
// Each runner deploys --rounds times per size on the same lab, in alternating order (default: 15
// below 10 hosts per cluster, else 3; see defaultRounds); the report compares the medians.
// --slow-login-ms 0 skips the slow-login case.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../src/temporal/dev-server';
import { buildDist } from '../test/support/build';
import { benchCase, defaultRounds } from './bench/case';
import { caseTable, summaryTable, type CaseReport, type Runner } from './bench/report';

function cli() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      parallelism: { type: 'string', default: '4' },
      'slow-login-ms': { type: 'string', default: '1000' },
      'slow-login-size': { type: 'string', default: '25' },
      only: { type: 'string' },
      'baseline-first': { type: 'boolean', default: false },
      rps: { type: 'string', default: '200' },
      'base-port': { type: 'string', default: process.env.BG_LAB_BASE_PORT || '20000' },
      'baseline-preflight-width': { type: 'string', default: '0' },
      'history-dir': { type: 'string' },
      rounds: { type: 'string' },
      'worker-per-run': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} ${v}: expected a whole number`);
    return n;
  };
  if (values.only !== undefined && values.only !== 'bluegreen' && values.only !== 'baseline')
    throw new Error('--only takes bluegreen or baseline');
  const order: Runner[] = values.only
    ? [values.only as Runner]
    : values['baseline-first']
      ? ['baseline', 'bluegreen']
      : ['bluegreen', 'baseline'];
  const sizes = (positionals[0] ?? '2,25,50').split(',').map((v) => int('sizes', v));
  const slowLoginMs = int('slow-login-ms', values['slow-login-ms']);
  const rounds = values.rounds === undefined ? undefined : Math.max(1, int('rounds', values.rounds));
  const caseOf = (hostsPerCluster: number, ms: number) => ({
    hostsPerCluster,
    slowLoginMs: ms,
    rounds: rounds ?? defaultRounds(hostsPerCluster),
  });
  const cases = sizes.map((n) => caseOf(n, 0));
  if (slowLoginMs > 0) cases.push(caseOf(int('slow-login-size', values['slow-login-size']), slowLoginMs));
  return {
    cases,
    order,
    parallelism: int('parallelism', values.parallelism),
    rps: int('rps', values.rps),
    basePort: int('base-port', values['base-port']),
    baselinePreflightWidth: int('baseline-preflight-width', values['baseline-preflight-width']),
    historyDir: values['history-dir'],
    workerPerRun: values['worker-per-run'],
  };
}

async function startTemporal(log: (m: string) => void, onInterrupt: (fn: () => Promise<void>) => void) {
  log('starting the Temporal dev server');
  const server = await startDevServer();
  onInterrupt(() => server.stop());
  const connection = await Connection.connect({ address: server.address });
  return {
    address: server.address,
    client: new Client({ connection }),
    stop: async () => {
      await connection.close();
      await server.stop();
    },
  };
}

async function startTemporalAndBuild(log: (m: string) => void, onInterrupt: (fn: () => Promise<void>) => void) {
  const [server, built] = await Promise.allSettled([startTemporal(log, onInterrupt), buildDist()]);
  if (built.status === 'rejected') {
    if (server.status === 'fulfilled') await server.value.stop();
    throw built.reason;
  }
  if (server.status === 'rejected') throw server.reason;
  return server.value;
}

async function main(): Promise<number> {
  const opts = cli();
  const cleanups = new Set<() => Promise<void> | void>();
  const onInterrupt = (fn: () => Promise<void> | void) => {
    cleanups.add(fn);
    return () => void cleanups.delete(fn);
  };
  // Ctrl-C or a kill: stop what this bench started (worker, baseline, lab, Temporal), newest first.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`bench: ${sig}, cleaning up`);
      void (async () => {
        for (const fn of [...cleanups].reverse()) await Promise.resolve(fn()).catch(() => {});
        process.exit(130);
      })();
    });
  }
  const log = (msg: string) => console.error(`bench: ${msg}`);
  if (opts.historyDir) fs.mkdirSync(opts.historyDir, { recursive: true });
  // The worker runs from dist/ as it ships: build it fresh, while the dev server starts.
  const temporal = opts.order.includes('bluegreen') ? await startTemporalAndBuild(log, onInterrupt) : undefined;
  const reports: CaseReport[] = [];
  try {
    for (const c of opts.cases) {
      const report = await benchCase({ ...opts, ...c, temporal, log, onInterrupt });
      reports.push(report);
      console.log(caseTable(report));
      console.log(JSON.stringify(report));
    }
  } finally {
    await temporal?.stop();
  }
  console.log(summaryTable(reports));
  console.log('(one 2-core machine, shared with other work while measuring unless said otherwise: expect noise)');
  return reports.every((r) => !r.error && r.phases.every((p) => p.run.outcome === 'succeeded' && p.fleetProblems.length === 0)) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
