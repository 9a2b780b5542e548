// The baseline: the workflow's steps as a plain sequential script, no Temporal, done the fastest
// way that is still honest (same checks, same order, the live pool never empty). It is our estimate
// of the physical limit of a deployment on this fleet: what is left is sshd, the host's install
// command, the app's restart and HAProxy's own health checks (inter 500 ms, rise 2 in the lab).
//
// What it leaves out on purpose, because only a durable orchestrator needs it: retries, heartbeats,
// the kill wrapper and the detached host job around remote commands, status bookkeeping. Polls run
// every 25-50 ms instead of the plan's intervals. What it keeps because the steps need it of any
// runner: after an install it asks the host which release runs (currentRelease, same session), since
// an install script may print anything. Until 2026-12-02 it read install's last line instead, one
// host command (a node start on the lab) fewer per host than the product.
//
// Usage: tsx scripts/bench/baseline.ts --plan FILE --key FILE --known-hosts FILE [--preflight-width N, default all]
// Prints one JSON line (BaselineResult) on stdout.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { haproxyFromConfig } from '../../src/adapters/haproxy/load-balancer';
import { waitUntilHealthy } from '../../src/activities/health';
import { checkHealth, smokeTest } from '../../src/adapters/http/checks';
import { loadKnownHosts } from '../../src/adapters/ssh/known-hosts';
import { isRoutable, isUp, waitUntilUp } from '../../src/activities/lb';
import type { AdminState, LoadBalancer, PoolName } from '../../src/ports/lb';
import { renderCommand } from '../../src/activities/shell';
import { loadPlan } from '../../src/plan/load';
import type { Plan } from '../../src/plan/schema';
import { connect, run, type HostConnection } from './ssh-conns';
import { parseLoginKey } from '../../src/adapters/ssh/signing-key';
import { peakRssMb } from './proc';

export interface BaselineResult {
  runner: 'baseline';
  outcome: 'succeeded';
  wallMs: number;
  steps: Record<string, number>;
  /** Every host was read back over SSH and HTTP after the run: it runs the release, healthy. */
  verified: true;
  peakRssMb: number;
  /** This process's CPU time during the run, in ms. */
  cpuMs: number;
  /** Hosts no smoke request reached through the standby pool (see verifyStep). */
  smokeUnreached: string[];
}

type HostSpec = Plan['clusters'][string]['hosts'][number];

const POLL_MS = 25;
const LB_CALLS_IN_FLIGHT = 8;

/** Runs fn over items, at most `limit` at a time; the first error stops new work and is thrown. */
async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function setAll(lb: LoadBalancer, pool: PoolName, servers: string[], state: AdminState): Promise<void> {
  return bounded(servers, LB_CALLS_IN_FLIGHT, (s) => lb.setState(pool, s, state));
}

/**
 * Hosts checked at once in preflight: all of them by default. A slow login (a sleep) then costs
 * one wait, not one per wave. With the lab's /bin/sh deploy user, 50 at once and 16 at once took
 * the same (about 5 s at 2x25 on a busy machine: CPU bound). Lower it for root logins that run
 * pyenv from ~/.bashrc: 100 of those at once queued on its lock past the 60 s command timeout.
 */
export const DEFAULT_PREFLIGHT_WIDTH = Infinity;

export async function runBaseline(
  plan: Plan,
  keyPath: string,
  knownHostsPath: string,
  preflightWidth = DEFAULT_PREFLIGHT_WIDTH,
): Promise<BaselineResult> {
  const key = parseLoginKey(readFileSync(keyPath));
  const knownHosts = await loadKnownHosts(knownHostsPath);
  // The baseline speaks HAProxy's Runtime API only: it is measured on the HAProxy lab.
  if (plan.loadBalancer.type !== 'haproxy') throw new Error('the baseline needs a plan with loadBalancer.type haproxy');
  const lb = haproxyFromConfig(plan.loadBalancer);
  const hostsOf = (cluster: string): HostSpec[] => plan.clusters[cluster]?.hosts ?? [];
  const all = plan.order.flatMap(hostsOf);
  const conns = new Map<string, HostConnection>();
  const conn = (name: string) => conns.get(name) ?? raise(`no SSH connection to ${name}`);
  const steps: Record<string, number> = {};
  const smokeUnreached: string[] = [];
  const timed = async (name: string, body: () => Promise<void>) => {
    const t = performance.now();
    await body();
    steps[name] = Math.round(performance.now() - t);
  };

  const preflight = async () => {
    const problems: string[] = [];
    const [live, standby] = await Promise.all([lb.readServers('live'), lb.readServers('standby')]);
    for (const h of all) {
      const l = live.find((s) => s.server === h.name);
      const s = standby.find((x) => x.server === h.name);
      if (!l || !isUp(l)) problems.push(`${h.name} is not ready and UP in the live pool`);
      if (!s || s.admin !== 'maint') problems.push(`${h.name} is not in maint in the standby pool`);
    }
    await bounded(all, preflightWidth, async (h) => {
      const [release, health] = await Promise.all([
        connect(h.ssh, key, knownHosts).then((c) => {
          conns.set(h.name, c);
          return run(c, h.name, plan.commands.currentRelease, 60_000);
        }),
        checkHealth(h.healthUrl, { expectRelease: plan.currentRelease, timeoutMs: 10_000 }),
      ]);
      if (release !== plan.currentRelease) problems.push(`${h.name} runs "${release}", expected "${plan.currentRelease}"`);
      if (!health.ok) problems.push(`${h.name} is not healthy: ${health.reason}`);
    });
    if (problems.length) throw new Error(`preflight refused:\n  - ${problems.join('\n  - ')}`);
  };

  const standbyStep = async (names: string[]) => {
    const live = await lb.readServers('live');
    if (!live.some((s) => !names.includes(s.server) && isUp(s)))
      throw new Error(`taking ${names.join(', ')} out would empty the live pool`);
    await setAll(lb, 'live', names, 'drain');
    const deadline = Date.now() + plan.drain.deadlineSeconds * 1000;
    for (;;) {
      const rows = [...(await lb.readServers('live')), ...(await lb.readServers('standby'))];
      const sessions = rows.filter((r) => names.includes(r.server)).reduce((n, r) => n + r.sessions, 0);
      if (sessions === 0) break;
      if (Date.now() > deadline) throw new Error(`drain of ${names.join(', ')} did not finish: ${sessions} sessions left`);
      await sleep(POLL_MS);
    }
    await setAll(lb, 'live', names, 'maint');
    await setAll(lb, 'standby', names, 'ready');
  };

  const deployStep = (hosts: HostSpec[]) =>
    bounded(hosts, plan.parallelism, async (h) => {
      // As the product must (issue 10): install may print anything, so the host is asked which
      // release runs, in the same SSH session.
      const install = renderCommand(plan.commands.install, { release: plan.release });
      // As the product does with HAProxy: out of the standby rotation while it restarts.
      await lb.setState('standby', h.name, 'maint');
      const script = `(\n${install}\n) || exit $?\n(\n${plan.commands.currentRelease}\n)`;
      const now = await run(conn(h.name), h.name, script, 5 * 60_000);
      if (now !== plan.release) throw new Error(`${h.name}: after install the host reports "${now}", not "${plan.release}"`);
      await waitUntilHealthy(h.healthUrl, {
        check: checkHealth,
        release: plan.release,
        deadlineMs: plan.health.timeoutSeconds * 1000,
        intervalMs: 50,
        timeoutMs: 2000,
      });
      await lb.setState('standby', h.name, 'ready');
    });

  const verifyStep = async (names: string[]) => {
    const waitUp = (servers: string[]) =>
      waitUntilUp(lb, 'standby', servers, { deadlineMs: plan.health.timeoutSeconds * 1000, pollMs: POLL_MS });
    // As the product (smokeTest): requests at once when every host takes them (HAProxy shows "UP 1/2"
    // until its next check); a host no passing response named waits for that check, then is tested directly.
    const standby = await lb.readServers('standby');
    const routable = names.every((n) => standby.some((s) => s.server === n && isRoutable(s)));
    if (!routable) await waitUp(names);
    for (const t of plan.smoke) {
      const seen = new Set<string>();
      // Round robin: one batch of N requests should reach all N hosts. HAProxy was seen to skip a
      // server that had just come back UP for 100 requests in a row, so after 4 batches the
      // unreached hosts are reported and tested directly, as the product's mode auto does.
      for (let batch = 0; seen.size < names.length && batch < 4; batch++) {
        const results = await Promise.all(names.map(() => smokeTest(plan.loadBalancer.standbyUrl, t, { release: plan.release })));
        for (const r of results) {
          if (!r.ok) throw new Error(`smoke ${t.path} failed${r.host ? ` on ${r.host}` : ''}: ${r.reason}`);
          if (!r.host || !names.includes(r.host))
            throw new Error(`smoke ${t.path} answered by ${r.host ?? 'nobody named'}, not the cluster under test`);
          seen.add(r.host);
        }
      }
      const unreached = names.filter((n) => !seen.has(n));
      smokeUnreached.push(...unreached);
      if (routable && unreached.length > 0) await waitUp(unreached);
      for (const n of unreached) {
        const r = await smokeTest(all.find((h) => h.name === n)!.healthUrl, t, { release: plan.release });
        if (!r.ok) throw new Error(`smoke ${t.path} failed on ${n}, asked directly: ${r.reason}`);
      }
    }
  };

  const liveStep = async (names: string[]) => {
    await setAll(lb, 'live', names, 'ready');
    await waitUntilUp(lb, 'live', names, { deadlineMs: plan.health.timeoutSeconds * 1000, pollMs: POLL_MS });
    await setAll(lb, 'standby', names, 'maint');
  };

  const migrateStep = async () => {
    if (!plan.migration || !plan.commands.migrate) return;
    await run(conn(plan.migration.host), plan.migration.host, renderCommand(plan.commands.migrate, { release: plan.release }), 55 * 60_000);
  };

  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await timed('preflight', preflight);
    for (const cluster of plan.order) {
      const hosts = hostsOf(cluster);
      const names = hosts.map((h) => h.name);
      await timed(`standby:${cluster}`, () => standbyStep(names));
      await timed(`deploy:${cluster}`, () => deployStep(hosts));
      await timed(`verify:${cluster}`, () => verifyStep(names));
      await timed(`live:${cluster}`, () => liveStep(names));
    }
    await timed('migrate', migrateStep);
    const wallMs = Math.round(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
    await verifyFleet(plan, lb, all, conn);
    return {
      runner: 'baseline',
      outcome: 'succeeded',
      wallMs,
      steps,
      verified: true,
      peakRssMb: peakRssMb(process.pid),
      cpuMs,
      smokeUnreached,
    };
  } finally {
    for (const c of conns.values()) c.close();
  }
}

/** Untimed: every host runs the release (over SSH and its health endpoint), live has all, standby none. */
async function verifyFleet(plan: Plan, lb: LoadBalancer, all: HostSpec[], conn: (name: string) => HostConnection): Promise<void> {
  const wrong: string[] = [];
  await Promise.all(
    all.map(async (h) => {
      const release = await run(conn(h.name), h.name, plan.commands.currentRelease, 60_000);
      const health = await checkHealth(h.healthUrl, { expectRelease: plan.release, timeoutMs: 10_000 });
      if (release !== plan.release || !health.ok) wrong.push(`${h.name}: current ${release}, health ${health.reason || 'ok'}`);
    }),
  );
  const [live, standby] = await Promise.all([lb.readServers('live'), lb.readServers('standby')]);
  for (const h of all) {
    if (!live.some((s) => s.server === h.name && isUp(s))) wrong.push(`${h.name} is not UP in the live pool`);
    if (!standby.some((s) => s.server === h.name && s.admin === 'maint')) wrong.push(`${h.name} is still in the standby pool`);
  }
  if (wrong.length) throw new Error(`baseline finished but the fleet is not on ${plan.release}:\n  - ${wrong.join('\n  - ')}`);
}

function raise(message: string): never {
  throw new Error(message);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main() {
  const { values } = parseArgs({
    options: {
      plan: { type: 'string' },
      key: { type: 'string' },
      'known-hosts': { type: 'string' },
      'preflight-width': { type: 'string' },
    },
  });
  if (!values.plan || !values.key || !values['known-hosts'])
    throw new Error('usage: baseline.ts --plan FILE --key FILE --known-hosts FILE');
  const plan = await loadPlan(values.plan);
  const width = values['preflight-width'] === undefined ? DEFAULT_PREFLIGHT_WIDTH : Number(values['preflight-width']);
  if (width !== Infinity && (!Number.isInteger(width) || width < 1))
    throw new Error(`--preflight-width ${values['preflight-width']}: expected a whole number >= 1`);
  console.log(JSON.stringify(await runBaseline(plan, values.key, values['known-hosts'], width)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`baseline: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
