// Safety on the real lab (sshd hosts, HAProxy, sample app) and the real Temporal server: hostile
// releases run nothing on a host, a changed host key stops the run in preflight, an unknown LB
// backend is named with the fix, and garbage from hosts (binary output, fake releases, hanging or
// health endpoints that hang or answer slowly) gives clear, bounded errors without a hang.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../../src/activities';
import { renderCommand, shellQuote } from '../../../src/activities/shell';
import type { HostRef } from '../../../src/activities/types';
import { hostCurrentRelease, hostRestarts, showStat } from '../../../src/lab';
import { hostPaths } from '../../../src/lab/layout';
import { realDeps } from '../../../src/worker-deps';
import { blueGreenDeployment } from '../../../src/workflows';
import { useTestLab } from '../../support/test-lab';
import { useTemporal, uniqueId, withWorker } from '../../support/temporal';

const temporal = useTemporal();
const t = useTestLab(20);
let real: Awaited<ReturnType<typeof realDeps>>;
beforeAll(async () => {
  real = await realDeps({ sshKeyPath: t.lab.keyPath, knownHostsPath: t.lab.knownHostsPath });
});
afterAll(async () => {
  real?.close();
});

const hostRef = (name: string): HostRef => {
  for (const [cluster, c] of Object.entries(t.plan.clusters)) {
    const h = c.hosts.find((x) => x.name === name);
    if (h) return { name, cluster, ssh: { host: h.ssh.host, port: h.ssh.port ?? 22, user: h.ssh.user }, healthUrl: h.healthUrl };
  }
  throw new Error(`no host ${name}`);
};

/** What a run could have changed: each host's release and restarts, and both pools in HAProxy. */
async function worldSnapshot(): Promise<string> {
  const stat = await showStat(t.lab.haproxySocket);
  return JSON.stringify({
    hosts: t.lab.hosts.map((h) => [h.name, hostCurrentRelease(h.name, t.lab.dir), hostRestarts(h.name, t.lab.dir).length]),
    lb: stat.filter((r) => r.svname !== 'BACKEND' && r.svname !== 'FRONTEND').map((r) => [r.pxname, r.svname, r.status]),
  });
}

async function runWorkflow(activities: Activities, plan: unknown) {
  const taskQueue = uniqueId('safety');
  return withWorker(taskQueue, activities, async () => {
    const handle = await temporal.client.workflow.start(blueGreenDeployment, {
      taskQueue,
      workflowId: uniqueId('safety'),
      args: [plan],
      workflowExecutionTimeout: '3 minutes',
    });
    const t0 = Date.now();
    const error = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    return { handle, error: error as WorkflowFailedError | undefined, ms: Date.now() - t0 };
  });
}

async function activityEvents(handle: WorkflowHandle, type: string) {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<string, proto.api.history.v1.IHistoryEvent>();
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === type) scheduled.set(String(e.eventId), e);
  }
  const started = events.filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
  const failed = events.filter((e) => scheduled.has(String(e.activityTaskFailedEventAttributes?.scheduledEventId)));
  return { scheduled: [...scheduled.values()], started, failed };
}

describe('injection: hostile release values run nothing on a host', () => {
  // In a host root: the one place the hosts' (non-root) deploy user can surely write, or a canary
  // that no session could create would prove nothing.
  const writable = () => t.lab.hosts.find((h) => h.name === 'green-1')!.root;
  const canary = () => path.join(writable(), 'CANARY');
  const hostile = () => [
    `v2; touch ${canary()}`,
    `$(touch ${canary()})`,
    `\`touch ${canary()}\``,
    `v2\ntouch ${canary()}`,
    `v2' ; touch ${canary()} ; '`,
    `v2" ; touch ${canary()} ; "`,
    `v2 && touch ${canary()}`,
    `v2 > ${canary()}`,
    `--output=${canary()}`,
    '-rf',
    'v\uFF12', // fullwidth digit two
    '\u0475' + '2', // Cyrillic izhitsa, looks like v
    'v2\u200B', // zero-width space
    'v'.repeat(10_000),
  ];

  it('the canary is meaningful: an unquoted command does run on the host', async () => {
    const control = path.join(writable(), 'CONTROL');
    const r = await real.deps.ssh.exec(hostRef('green-1').ssh, `touch ${shellQuote(control)}`, { timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    expect(fs.existsSync(control)).toBe(true);
  });

  it('given to the workflow: PlanError at once, no activity scheduled', async () => {
    const before = await worldSnapshot();
    const taskQueue = uniqueId('inject');
    await withWorker(taskQueue, t.activities, async () => {
      await Promise.all(
        hostile().map(async (release) => {
          const handle = await temporal.client.workflow.start(blueGreenDeployment, {
            taskQueue,
            workflowId: uniqueId('inject'),
            args: [{ ...t.plan, release }],
          });
          const err = await handle.result().catch((e: unknown) => e);
          expect(err, JSON.stringify(release.slice(0, 30))).toBeInstanceOf(WorkflowFailedError);
          expect((err as WorkflowFailedError).cause?.message).toMatch(
            /^The plan is invalid \(1 problem\):\n {2}- plan\.release: expected a release: /,
          );
          expect((await handle.fetchHistory()).events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
        }),
      );
    });
    expect(fs.existsSync(canary())).toBe(false);
    expect(await worldSnapshot()).toBe(before);
  });

  it('given straight to the activities (skipping the plan): refused before any connection', async () => {
    const before = await worldSnapshot();
    const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    const host = hostRef('green-1');
    for (const release of hostile()) {
      await expect(
        env.run(t.activities.deployHosts, {
          cluster: 'green',
          hosts: [host],
          commands: { install: t.plan.commands.install, currentRelease: t.plan.commands.currentRelease },
          release,
          parallelism: 1,
          installTimeoutSeconds: 30,
          health: { timeoutSeconds: 5, intervalMs: 500 },
        }),
      ).rejects.toThrow(/release .* (is not allowed|must not be empty)/);
      await expect(env.run(t.activities.runMigration, { host, command: t.plan.commands.migrate!, release })).rejects.toThrow(
        /is not allowed/,
      );
    }
    expect(fs.existsSync(canary())).toBe(false);
    expect(await worldSnapshot()).toBe(before);
  });

  it('even past every validation, the quoting alone keeps them literal: the host script sees one argument and refuses it', async () => {
    const before = await worldSnapshot();
    const target = hostRef('green-2').ssh;
    const results = await Promise.all(
      hostile().map(async (release) => ({
        release,
        r: await real.deps.ssh.exec(target, renderCommand(t.plan.commands.install, { release }), { timeoutMs: 30_000 }),
      })),
    );
    for (const { release, r } of results) {
      expect(r.code, JSON.stringify(release.slice(0, 30))).toBe(2); // lab-host: "not a release name"
      expect(r.stderr).toMatch(/lab-host: /);
    }
    // What a shell would do with them unquoted is shown by the control test above.
    expect(fs.existsSync(canary())).toBe(false);
    expect(await worldSnapshot()).toBe(before);
  });
});

describe('preflight against the real HAProxy and hosts', () => {
  it('an LB backend the plan names but HAProxy lacks: refused in preflight with the backends that exist and the field to fix', async () => {
    const before = await worldSnapshot();
    const plan = { ...t.plan, loadBalancer: { ...t.plan.loadBalancer, liveBackend: 'livee' } };
    const { error, handle } = await runWorkflow(t.activities, plan);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const message = error?.cause?.message ?? '';
    expect(message).toContain('load balancer refused "show stat livee 4 -1": No such proxy.');
    expect(message).toMatch(/has no backend "livee"; its backends are: .*\blive\b.*\bstandby\b/);
    expect(message).toContain("Fix the plan's loadBalancer.liveBackend");
    // One attempt of preflight's one read (pools and hosts at once): a missing backend is not retried.
    const reads = await activityEvents(handle, 'readFleet');
    expect(reads.started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
    // Nothing past preflight ran.
    expect((await activityEvents(handle, 'drainFromLive')).scheduled).toHaveLength(0);
    expect(await worldSnapshot()).toBe(before);
  });

  it('a changed and an unknown host key: preflight refuses, names the fingerprints seen and expected, one attempt only, nothing changed', async () => {
    const before = await worldSnapshot();
    const victim = t.lab.hosts.find((h) => h.name === 'green-2')!;
    const dir = fs.mkdtempSync(path.join(t.lab.dir, 'kh-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'impostor')]);
    const impostor = fs.readFileSync(path.join(dir, 'impostor.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const fp = (pub: string) => execFileSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' }).split(/\s+/)[1]!;
    const expected = fp(path.join(dir, 'impostor.pub'));
    const seen = fp(`${hostPaths(victim.root).hostKey}.pub`);
    // The worker's known_hosts pins another key for green-2 (the [host]:port form the lab writes).
    const knownHosts = path.join(dir, 'known_hosts');
    const lines = fs.readFileSync(t.lab.knownHostsPath, 'utf8').split('\n');
    const entry = `[127.0.0.1]:${victim.sshPort}`;
    expect(lines.filter((l) => l.startsWith(`${entry} `))).toHaveLength(1);
    // ... and has no line at all for blue-1 (an unknown host).
    const stranger = t.lab.hosts.find((h) => h.name === 'blue-1')!;
    const strangerSeen = fp(`${hostPaths(stranger.root).hostKey}.pub`);
    fs.writeFileSync(
      knownHosts,
      lines
        .filter((l) => !l.startsWith(`[127.0.0.1]:${stranger.sshPort} `))
        .map((l) => (l.startsWith(`${entry} `) ? `${entry} ${impostor}` : l))
        .join('\n'),
    );
    const pinned = await realDeps({ sshKeyPath: t.lab.keyPath, knownHostsPath: knownHosts });
    // Every SSH command the activities send, by port: a refused host key must not be tried again.
    const execs = new Map<number, number>();
    const ssh = pinned.deps.ssh;
    const counting = {
      ...pinned.deps,
      ssh: {
        exec: (target: { host: string; port: number; user: string }, command: string, opts: Parameters<typeof ssh.exec>[2]) => {
          execs.set(target.port, (execs.get(target.port) ?? 0) + 1);
          return ssh.exec(target, command, opts);
        },
      },
    };
    try {
      const { error, handle } = await runWorkflow(createActivities(counting), t.plan);
      const message = error?.cause?.message ?? '';
      expect(message).toMatch(/^(preflight failed: )?Preflight refused to start; nothing was changed:/);
      expect(message).toContain(`green-2: print the current release: host key of 127.0.0.1:${victim.sshPort} does not match known_hosts`);
      expect(message).toContain(`seen ${seen}, expected ${expected}; refusing to connect`);
      expect(message).toContain(
        `blue-1: print the current release: host key of 127.0.0.1:${stranger.sshPort} is not in known_hosts (looked up as "[127.0.0.1]:${stranger.sshPort}"); seen ${strangerSeen}, expected none; refusing to connect`,
      );
      expect(message).not.toMatch(/gave up after/);
      // One read per host, the refused ones included: a changed or unknown key is never retried.
      expect([...execs.values()]).toEqual(t.lab.hosts.map(() => 1));
      const reads = await activityEvents(handle, 'readFleet');
      expect(reads.started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
      expect((await activityEvents(handle, 'drainFromLive')).scheduled).toHaveLength(0);
    } finally {
      pinned.close();
    }
    expect(await worldSnapshot()).toBe(before);
  });
});

describe('garbage from hosts', () => {
  let servers: http.Server[] = [];
  const listen = async (handler: http.RequestListener): Promise<string> => {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/health`;
  };
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    servers = [];
  });

  it('binary megabytes and a hostile fake release as "current release", a hanging and a slow health endpoint: clear errors, bounded, no hang', async () => {
    const before = await worldSnapshot();
    const hang = await listen(() => {}); // accepts, never answers
    // Answers correctly, one byte every 300 ms: would be healthy after ~10 s more than allowed.
    const slow = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = [...'{"status":"ok","release":"v1","host":"blue-2"}'.padEnd(80, ' ')];
      const timer = setInterval(() => {
        if (res.destroyed || body.length === 0) {
          clearInterval(timer);
          return void res.end();
        }
        res.write(body.shift()!);
      }, 300);
      res.on('close', () => clearInterval(timer));
    });
    const current = t.plan.commands.currentRelease;
    const plan = {
      ...t.plan,
      commands: {
        ...t.plan.commands,
        currentRelease:
          `case "$BG_HOST_ROOT" in */green-1) head -c 20000000 /dev/urandom;; ` +
          `*/green-2) printf '%s\\n' 'v1; rm -rf /' ;; *) ${current};; esac`,
      },
      clusters: {
        green: t.plan.clusters.green,
        blue: {
          hosts: t.plan.clusters.blue!.hosts.map((h, i) => ({ ...h, healthUrl: i === 0 ? hang : slow })),
        },
      },
    };
    const rss0 = process.memoryUsage().rss;
    const { error, ms, handle } = await runWorkflow(t.activities, plan);
    const grew = process.memoryUsage().rss - rss0;
    const message = error?.cause?.message ?? '';
    const lines = message.split('\n');
    expect(lines[0]).toBe('Preflight refused to start; nothing was changed:');
    expect(lines).toContain('  - green-2 printed "v1; rm -rf /" where a release name was expected');
    // Binary: called binary, with the size kept (bounded by the SSH layer), never quoted.
    expect(message).toMatch(/ {2}- green-1 printed binary output \(\d+ bytes kept\) where a release name was expected/);
    expect(message).toMatch(/ {2}- blue-1 is not healthy: timed out after 10000 ms/);
    expect(message).toMatch(/ {2}- blue-2 is not healthy: timed out after 10000 ms/);
    // Every problem is one short line: 20 MB of binary did not end up in the error.
    expect(message.length).toBeLessThan(2000);
    for (const l of lines) expect(l.length).toBeLessThan(400);
    expect(ms).toBeLessThan(40_000);
    expect(grew).toBeLessThan(200 * 1024 * 1024);
    // Garbage is not retried: the fleet's reads ran once.
    const reads = await activityEvents(handle, 'readFleet');
    expect(reads.started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]);
    // Heartbeats and failures in history stay small too.
    const historyBytes = JSON.stringify(await handle.fetchHistory(), (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
    ).length;
    expect(historyBytes).toBeLessThan(200_000);
    expect(await worldSnapshot()).toBe(before);
  });
});
