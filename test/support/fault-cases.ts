// Shared harness for the failure tests: one real lab per file, a run under continuous load, an LB
// sampler that proves the live pool is never empty, and a reset between cases.
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  giveTreeTo,
  haproxyCommand,
  hostCurrentRelease,
  labPaths,
  labUserOf,
  readUpstream,
  resetUpstreams,
  restoreHaproxyApi,
  startLbSshdAgain,
  runHostScript,
  showStat,
  startLoad,
  startSshdAgain,
  thawHost,
} from '../../src/lab';
import type { LoadReport } from '../../src/lab';
import { readState as readLabState } from '../../src/lab/state';
import { createActivities, type Activities } from '../../src/activities';
import { lbFromConfig } from '../../src/adapters/load-balancer';
import { checkHealth, smokeSession, smokeTest } from '../../src/adapters/http/checks';
import { loadKnownHosts } from '../../src/adapters/ssh/known-hosts';
import { createSshClient } from '../../src/adapters/ssh/client';
import type { PlanInput } from '../../src/plan/schema';
import { blueGreenDeployment, recoverFleet } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/messages';
import type { DeploymentResult, DeploymentStatus } from '../../src/workflows/state';
import { endOf } from './runs';
import { expectSteadyLoad } from './load';
import { uniqueId, withWorker, workflowBundle, type TemporalHandles } from './temporal';
import { sleep } from './wait';
import type { TestLab } from './test-lab';

/** Small numbers so that each failure case takes seconds, not minutes. */
export function fastPlan(t: TestLab, overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    ...t.plan,
    health: { path: '/health', timeoutSeconds: 12, intervalMs: 500 },
    drain: { deadlineSeconds: 8 },
    ...overrides,
  };
}

/**
 * Activities whose SSH client gives up on a handshake after `connectTimeoutMs` (the worker's default
 * is 15 s); everything else as in production. Used where a frozen or dead host is part of the case.
 */
export async function activitiesWithSsh(t: TestLab, connectTimeoutMs: number): Promise<{ activities: Activities; close(): void }> {
  const knownHosts = await loadKnownHosts(t.lab.knownHostsPath);
  const ssh = createSshClient({
    privateKey: fs.readFileSync(t.lab.keyPath),
    knownHosts,
    connectTimeoutMs,
    keepaliveIntervalMs: 2000,
    keepaliveCountMax: 3,
  });
  return {
    activities: createActivities({ ssh, lb: (c) => lbFromConfig(c, { ssh }), http: { checkHealth, smokeTest, smokeSession } }),
    close: () => ssh.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// LB sampler

/** activitiesWithSsh for the file's tests: built before them, closed after them (filled in by then). */
export function useActivitiesWithSsh(t: TestLab, connectTimeoutMs: number): Activities {
  const activities = {} as Activities;
  let close = () => {};
  beforeAll(async () => {
    const made = await activitiesWithSsh(t, connectTimeoutMs);
    Object.assign(activities, made.activities);
    close = made.close;
  });
  afterAll(() => close());
  return activities;
}

/**
 * `activities`, except that `fault` runs once right after green has been drained: after preflight
 * has read every host, before the deploy connects to one. Deterministic, unlike polling the status
 * for the short standby step.
 */
export function faultAfterGreenDrained(activities: Activities, fault: () => unknown): Activities {
  let done = false;
  return {
    ...activities,
    drainFromLive: async (input) => {
      await activities.drainFromLive(input);
      if (!done && input.servers.includes('green-2')) {
        done = true;
        await fault();
      }
    },
  };
}

export interface LbSample {
  at: number;
  /** server -> status text as `show stat` gives it (UP, DOWN, MAINT, DRAIN, "UP 1/2", ...). */
  live: Record<string, string>;
  standby: Record<string, string>;
}

export interface Sampler {
  samples: LbSample[];
  errors: string[];
  stop(): Promise<void>;
}

/** A pool as an nginx upstream file says: ready is "UP" (nginx has no health state; the load proves it serves). */
function upstreamStatuses(dir: string, pool: 'live' | 'standby'): Record<string, string> {
  const names: Record<string, string> = { ready: 'UP', drain: 'DRAIN', maint: 'MAINT' };
  return Object.fromEntries(Object.entries(readUpstream(dir, pool)).map(([server, admin]) => [server, names[admin] ?? admin]));
}

/**
 * Reads the pools every ~100 ms: HAProxy's `show stat` (through the hidden socket while the API is
 * "down"), or nginx's upstream files on the LB host.
 */
export function startSampler(t: TestLab, intervalMs = 100): Sampler {
  const p = labPaths(t.lab.dir);
  const samples: LbSample[] = [];
  const errors: string[] = [];
  let stopped = false;
  const read = async () => {
    for (const sock of [p.haproxySocket, p.haproxyHiddenSocket, p.haproxySocket]) {
      try {
        if (fs.existsSync(sock)) return await showStat(sock);
      } catch {
        // the socket moved between the check and the connect: try the other path
      }
    }
    throw new Error('HAProxy stats unreadable on both socket paths');
  };
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      try {
        if (t.lab.lb === 'nginx') {
          samples.push({ at: t0, live: upstreamStatuses(t.lab.dir, 'live'), standby: upstreamStatuses(t.lab.dir, 'standby') });
          await sleep(Math.max(0, intervalMs - (Date.now() - t0)));
          continue;
        }
        const rows = await read();
        const pick = (px: string) =>
          Object.fromEntries(
            rows
              .filter((r) => r.pxname === px && r.svname !== 'FRONTEND' && r.svname !== 'BACKEND')
              .map((r) => [r.svname, r.status ?? '?']),
          );
        samples.push({ at: t0, live: pick('live'), standby: pick('standby') });
      } catch (err) {
        errors.push(`${new Date(t0).toISOString()} ${(err as Error).message}`);
      }
      await sleep(Math.max(0, intervalMs - (Date.now() - t0)));
    }
  })();
  return {
    samples,
    errors,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Plain "UP" in the live backend: ready (not drain/maint) and passing its checks. */
export const upInLive = (s: LbSample, host: string) => s.live[host] === 'UP';

// ---------------------------------------------------------------------------------------------
// A case

export interface CaseRun {
  handle: WorkflowHandle<typeof blueGreenDeployment>;
  result?: DeploymentResult;
  /** The failure the run ended with (its cause is the ApplicationFailure or CancelledFailure). */
  error?: WorkflowFailedError;
  outcome: string;
  reason: string;
  status: DeploymentStatus;
  load: LoadReport;
  sampler: Sampler;
  ms: number;
}

export interface CaseOptions {
  plan: PlanInput;
  activities?: Activities;
  /** Runs alongside the workflow: fault injection, signals, cancellation. */
  during?: (handle: WorkflowHandle<typeof blueGreenDeployment>) => Promise<void>;
  rps?: number;
  /** Runs a recovery to this release (recoverFleet(plan, recoverTo)) instead of a deployment. */
  recoverTo?: string;
}

export async function runCase(temporal: TemporalHandles, t: TestLab, opts: CaseOptions): Promise<CaseRun> {
  const taskQueue = uniqueId('fail');
  // The bundle and the worker are built before the load starts: both block this process's event
  // loop for a moment, and the load generator shares it (its requests would time out here, not in the lab).
  await workflowBundle();
  return withWorker(taskQueue, opts.activities ?? t.activities, async () => {
    const load = startLoad({ url: t.lab.liveUrl, rps: opts.rps ?? 180, dbPath: t.lab.dbPath });
    const sampler = startSampler(t);
    await sleep(300);
    const t0 = Date.now();
    const options = { taskQueue, workflowId: uniqueId('failcase'), workflowExecutionTimeout: '5 minutes' };
    // Both workflows answer the same query and end with a DeploymentResult: one handle type serves both.
    const handle = (
      opts.recoverTo === undefined
        ? await temporal.client.workflow.start(blueGreenDeployment, { ...options, args: [opts.plan] })
        : await temporal.client.workflow.start(recoverFleet, { ...options, args: [opts.plan, opts.recoverTo] })
    ) as WorkflowHandle<typeof blueGreenDeployment>;
    const during = opts.during?.(handle);
    const { result: final, error } = await endOf(handle);
    const ms = Date.now() - t0;
    await during;
    // A moment of traffic on the end state, so that it is part of what the load proves.
    await sleep(1000);
    const [loadReport] = await Promise.all([load.stop(), sampler.stop()]);
    const status = await handle.query(statusQuery);
    return {
      handle,
      result: final,
      error,
      outcome: final?.outcome ?? status.outcome ?? 'unknown',
      reason: final?.reason ?? status.reason ?? '',
      status,
      load: loadReport,
      sampler,
      ms,
    };
  });
}

/** The promise, for every case: no failed request, no lost write, the live pool never empty. */
export function expectUsersUnharmed(c: CaseRun): void {
  expect(c.load.failures.list).toEqual([]);
  expect(c.load.lostWrites).toEqual([]);
  expectSteadyLoad(c.load);
  expect(c.sampler.errors).toEqual([]);
  expect(c.sampler.samples.length).toBeGreaterThan(c.ms / 400);
  const empty = c.sampler.samples.filter((s) => !Object.keys(s.live).some((h) => upInLive(s, h)));
  expect(empty.map((s) => ({ at: new Date(s.at).toISOString(), live: s.live }))).toEqual([]);
}

/** Every host on `release`; `live` hosts UP in live and MAINT in standby; the others out of live. */
export async function expectFleet(t: TestLab, release: string | Record<string, string>, outOfLive: string[] = []): Promise<void> {
  const nginx = t.lab.lb === 'nginx';
  const stat = nginx ? [] : await showStat(labPaths(t.lab.dir).haproxySocket);
  const [liveFile, standbyFile] = nginx ? [upstreamStatuses(t.lab.dir, 'live'), upstreamStatuses(t.lab.dir, 'standby')] : [{}, {}];
  for (const h of t.lab.hosts) {
    const want = typeof release === 'string' ? release : release[h.name];
    expect(`${h.name}: ${hostCurrentRelease(h.name, t.lab.dir)}`).toBe(`${h.name}: ${want}`);
    const live = nginx ? liveFile[h.name] : stat.find((r) => r.pxname === 'live' && r.svname === h.name)?.status;
    const standby = nginx ? standbyFile[h.name] : stat.find((r) => r.pxname === 'standby' && r.svname === h.name)?.status;
    if (outOfLive.includes(h.name)) expect(`${h.name}: ${live}`).toBe(`${h.name}: MAINT`);
    else expect(`${h.name}: ${live}/${standby}`).toBe(`${h.name}: UP/MAINT`);
  }
}

/** The release every host runs now (each case starts from it). */
export function fleetRelease(t: TestLab): string {
  const releases = new Set(t.lab.hosts.map((h) => hostCurrentRelease(h.name, t.lab.dir)));
  if (releases.size !== 1) throw new Error(`the fleet is mixed: ${[...releases].join(', ')}`);
  return [...releases][0] as string;
}

/** A good release other than the one the fleet runs. */
export function otherGood(from: string): string {
  return from === 'v2' ? 'v1' : 'v2';
}

/**
 * Puts the lab back to a clean fleet on `release`, all live: undoes every fault, installs with the
 * host script where needed (no load is running), resets the pools and waits until every host is UP.
 */
export async function resetFleet(t: TestLab, release = 'v1'): Promise<void> {
  const p = labPaths(t.lab.dir);
  const nginx = t.lab.lb === 'nginx';
  if (nginx) await startLbSshdAgain(t.lab.dir);
  else restoreHaproxyApi(t.lab.dir);
  for (const h of t.lab.hosts) {
    thawHost(t.lab.dir, h.name);
    await startSshdAgain(t.lab.dir, h.name);
    for (const planted of fs.readdirSync(path.join(h.root, 'releases'))) {
      if (fs.existsSync(path.join(h.root, 'releases', planted, '.planted')))
        fs.rmSync(path.join(h.root, 'releases', planted), { recursive: true });
    }
    await runHostScript(t.lab.dir, h.root, ['install', release]);
    if (nginx) continue;
    await haproxyCommand(p.haproxySocket, `set server live/${h.name} state ready`);
    await haproxyCommand(p.haproxySocket, `set server standby/${h.name} state maint`);
  }
  if (nginx) {
    const state = readLabState(t.lab.dir);
    if (!state?.nginxPid) throw new Error(`no nginx recorded in ${t.lab.dir}`);
    await resetUpstreams(t.lab, labUserOf(t.lab.dir), state.nginxPid);
    return;
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    const stat = await showStat(p.haproxySocket, 'live');
    if (t.lab.hosts.every((h) => stat.find((r) => r.svname === h.name)?.status === 'UP')) return;
    if (Date.now() > deadline) throw new Error(`fleet not UP after reset: ${stat.map((r) => `${r.svname}=${r.status}`).join(' ')}`);
    await sleep(200);
  }
}

/**
 * A release that is broken on one host only: the host already holds `releases/<release>` (so the
 * install reuses it), built from the `bad-health` artifact. Like a host-specific config gone wrong.
 */
export function plantBrokenRelease(t: TestLab, host: string, release: string): void {
  const h = t.lab.hosts.find((x) => x.name === host)!;
  const dest = path.join(h.root, 'releases', release);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.cpSync(path.join(labPaths(t.lab.dir).artifacts, 'bad-health'), dest, { recursive: true });
  fs.writeFileSync(path.join(dest, 'release.json'), JSON.stringify({ release, behavior: 'bad-health' }) + '\n');
  fs.writeFileSync(path.join(dest, '.installed'), `${new Date().toISOString()}\n`);
  fs.writeFileSync(path.join(dest, '.planted'), 'test\n');
  // The host's deploy user prunes old releases: a root-owned one would make its install fail.
  giveTreeTo(labUserOf(t.lab.dir), dest);
}

/** One line per case for the test log: what happened and how long it took. */
export function logCase(name: string, c: CaseRun): void {
  console.log(
    `[failures] ${name}: ${c.outcome} in ${(c.ms / 1000).toFixed(1)} s; ${c.load.requests} requests, ` +
      `${c.load.failures.count} failed, ${c.load.lostWrites.length} lost writes, ${c.sampler.samples.length} LB samples\n  reason: ${c.reason}`,
  );
}
