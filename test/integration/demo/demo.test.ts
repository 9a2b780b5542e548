// The README's first command, run as a user would: it deploys v1 → v2 on a fresh lab, prints one JSON
// line, and leaves nothing running.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../src/temporal/dev-server';
import { tempLabDir, testBasePort } from '../../support/lab-tools';
import { expectSteadyLoad } from '../../support/load';

function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .some((l) => l.includes(`:${hex} `) && l.trim().split(/\s+/)[3] === '0A'),
  );
}

/** PIDs of live processes whose command line or environment mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // a zombie has exited; its parent has not reaped it yet
      const text = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') + fs.readFileSync(`/proc/${d}/environ`, 'utf8');
      if (text.includes(needle)) found.push(Number(d));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe('npm run demo', () => {
  it('stops everything it started on Ctrl-C while a gate waits: no process, no listener left', async () => {
    const labDir = tempLabDir('demoint');
    const basePort = testBasePort(8);
    const temporalPort = await freePort();
    const child = spawn('npm', ['run', '--silent', 'demo'], {
      env: {
        ...process.env,
        BG_LAB_DIR: labDir,
        BG_LAB_BASE_PORT: String(basePort),
        BG_DEMO_TEMPORAL_PORT: String(temporalPort),
        BG_DEMO_UI_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, as a terminal would have: Ctrl-C goes to the whole group
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? String(code))));
    try {
      const deadline = Date.now() + 120_000;
      while (!out.includes('Gate promote-green is waiting')) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`demo did not reach the gate:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(processesMentioning(labDir).length).toBeGreaterThan(0);
      process.kill(-child.pid!, 'SIGINT');
      // npm passes the demo's 130 on, or ends by the same SIGINT itself.
      expect(['130', 'SIGINT'], out.slice(-2000)).toContain(await exited);
      expect(out).toMatch(/Interrupted: stopping everything the demo started/);
      await new Promise((r) => setTimeout(r, 1500)); // let PID 1 reap what just exited
      expect(processesMentioning(labDir)).toEqual([]);
      expect(listening(temporalPort)).toBe(false);
      expect(listening(basePort + 80)).toBe(false);
      expect(listening(basePort + 100)).toBe(false);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone, as it should be
      }
      fs.rmSync(labDir, { recursive: true, force: true });
    }
  });

  it('deploys v1 to v2 on the lab with --yes --json: succeeded, 0 failed requests, 0 lost writes, nothing left running', async () => {
    const labDir = tempLabDir('demo');
    const basePort = testBasePort(7);
    const temporalPort = await freePort();
    const child = spawn('npm', ['run', '--silent', 'demo', '--', '--yes', '--json'], {
      env: {
        ...process.env,
        BG_LAB_DIR: labDir,
        BG_LAB_BASE_PORT: String(basePort),
        BG_DEMO_TEMPORAL_PORT: String(temporalPort),
        BG_DEMO_UI_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      expect(code, stderr.slice(-3000)).toBe(0);
      const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
      expect(summary.outcome).toBe('succeeded');
      expect(summary.failedRequests).toBe(0);
      expect(summary.lostWrites).toBe(0);
      expectSteadyLoad({ requests: summary.requests, seconds: summary.loadSeconds, rps: summary.rps }, 3);
      expect(summary.hosts).toHaveLength(4);
      expect(summary.hosts.every((h: { release: string; pool: string }) => h.release === 'v2' && h.pool === 'live')).toBe(true);
      expect(summary.steps.map((s: { step: string }) => s.step)).toContain('migrate');
      // Nothing listens any more: Temporal, the LB frontends, the hosts' sshd.
      expect(listening(temporalPort)).toBe(false);
      expect(listening(basePort + 80)).toBe(false);
      expect(listening(basePort + 100)).toBe(false);
    } finally {
      fs.rmSync(labDir, { recursive: true, force: true });
    }
  });
});
