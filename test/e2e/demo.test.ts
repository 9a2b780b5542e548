// The README's first command, run as a user would: it deploys v1 → v2 on a fresh lab, prints one JSON
// line, and leaves nothing running.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/temporal/dev-server';
import { tempLabDir, testBasePort } from '../lab/support';

function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) =>
    fs.readFileSync(f, 'utf8').split('\n').some((l) => l.includes(`:${hex} `) && l.trim().split(/\s+/)[3] === '0A'),
  );
}

describe('npm run demo', () => {
  it('deploys v1 to v2 on the lab with --yes --json: succeeded, 0 failed requests, 0 lost writes, nothing left running', async () => {
    const labDir = tempLabDir('demo');
    const basePort = testBasePort(7);
    const temporalPort = await freePort();
    const child = spawn('npm', ['run', '--silent', 'demo', '--', '--yes', '--json'], {
      env: { ...process.env, BG_LAB_DIR: labDir, BG_LAB_BASE_PORT: String(basePort), BG_DEMO_TEMPORAL_PORT: String(temporalPort), BG_DEMO_UI_PORT: String(await freePort()) },
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
      expect(summary.requests).toBeGreaterThan(1000);
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
