// `npm run stack -- up|status|down` as a team would run it: PostgreSQL, the Temporal server, Temporal
// Web and two workers come up and print their addresses; a deployment runs on the stack's own
// workers; `down` leaves no process, no listener and no file behind.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCurrentRelease } from '../../../src/lab';
import type { StackStatus } from '../../../src/stack/stack';
import { useTestLab } from '../../support/test-lab';
import { listeningPorts, tempLabDir } from '../../support/lab-tools';

const execFileAsync = promisify(execFile);

/** PIDs of live processes whose command line or environment mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      const text = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') + fs.readFileSync(`/proc/${d}/environ`, 'utf8');
      if (text.includes(needle)) found.push(Number(d));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

function npmStack(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'stack', '--', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const t = useTestLab(12, 1);
let dir: string;
beforeAll(async () => {
  dir = tempLabDir('stackcli');
  fs.rmSync(dir, { recursive: true });
});
afterAll(async () => {
  // Whatever happened above, nothing of the stack may survive the test.
  if (fs.existsSync(dir)) await npmStack(['down', '--dir', dir]);
});

describe('npm run stack', () => {
  it('up with Temporal Web and two workers, a deployment on its workers, status, then down leaves nothing behind', async () => {
    const t0 = Date.now();
    const up = await npmStack([
      'up',
      '--dir',
      dir,
      '--port',
      '0',
      '--ui-port',
      '0',
      '--workers',
      '2',
      '--ssh-key',
      t.lab.keyPath,
      '--known-hosts',
      t.lab.knownHostsPath,
      '--json',
    ]);
    expect(up.code, up.stderr.slice(-3000)).toBe(0);
    const status = JSON.parse(up.stdout) as StackStatus & { elapsedMs: number };
    console.log(
      `npm run stack -- up: ${((Date.now() - t0) / 1000).toFixed(1)} s (stack's own count ${(status.elapsedMs / 1000).toFixed(1)} s; ${JSON.stringify(status.state?.timings)})`,
    );
    expect(status.up).toBe(true);
    expect(status.temporal?.serverVersion).toBe('1.29.1');
    expect(status.workers.map((w) => w.running)).toEqual([true, true]);
    const pgDir = status.state!.pg.dir;
    const ports = [
      status.state!.server.ports.frontend,
      status.state!.pg.port,
      ...(status.web ? [new URL(status.web.url).port].map(Number) : []),
    ];

    // Temporal Web, when it could be built, serves its app against this server.
    if (status.web) {
      const page = await fetch(status.web.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      const api = await fetch(`${status.web.url}/api/v1/namespaces/default`);
      expect(api.status).toBe(200);
      expect(JSON.stringify(await api.json())).toContain('"default"');
    } else {
      console.log(`no Temporal Web: ${status.state?.uiSkipped}`);
    }

    // The human-readable status names every address.
    const human = await npmStack(['status', '--dir', dir]);
    expect(human.code, human.stdout + human.stderr).toBe(0);
    expect(human.stdout).toContain(status.temporal!.address);
    expect(human.stdout).toContain(`127.0.0.1:${status.state!.pg.port}`);

    // A deployment through the stack's own workers, started and followed by the CLI.
    const from = hostCurrentRelease(t.lab.hosts[0]!.name, t.lab.dir) ?? 'v1';
    const to = from === 'v1' ? 'v2' : 'v1';
    const planFile = path.join(t.lab.dir, 'stack-cli-plan.json');
    fs.writeFileSync(planFile, JSON.stringify({ ...t.plan, release: to, currentRelease: from }));
    const run = await execFileAsync(
      process.execPath,
      ['bin/bluegreen.mjs', 'deploy', planFile, '--wait', '--address', status.temporal!.address],
      { maxBuffer: 8 << 20 },
    );
    expect(run.stdout).toMatch(/succeeded/i);
    for (const h of t.lab.hosts) expect(hostCurrentRelease(h.name, t.lab.dir)).toBe(to);

    const down = await npmStack(['down', '--dir', dir, '--json']);
    expect(down.code, down.stderr).toBe(0);
    const stopped = JSON.parse(down.stdout) as { stopped: number[]; elapsedMs: number };
    console.log(`npm run stack -- down: ${stopped.stopped.length} processes in ${(stopped.elapsedMs / 1000).toFixed(1)} s`);
    // Workers, the server, PostgreSQL, and Temporal Web if any.
    expect(stopped.stopped.length).toBe(status.web ? 5 : 4);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning(dir)).toEqual([]);
    expect(processesMentioning(pgDir)).toEqual([]);
    const listening = listeningPorts();
    for (const p of ports) expect(listening.has(p), `port ${p} still listening`).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync(pgDir)).toBe(false);
    const after = await npmStack(['status', '--dir', dir]);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('no stack');
  });
});
