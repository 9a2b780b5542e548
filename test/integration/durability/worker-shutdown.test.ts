// The worker is its own process and stops gracefully: SIGTERM or SIGINT ends it with exit code 0.
import { once } from 'node:events';
import { describe, expect, it, inject } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { compiledWorker } from '../../../src/paths';

describe('the worker process', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`shuts down gracefully on ${signal} with exit code 0`, async () => {
      // The worker only needs readable secrets to start; no host is contacted while it idles.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-worker-'));
      const keyPath = path.join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
      fs.writeFileSync(path.join(dir, 'known_hosts'), '');
      try {
        const t0 = Date.now();
        const child = spawn(process.execPath, [compiledWorker], {
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: inject('temporalAddress'),
            BG_TASK_QUEUE: `shutdown-${process.pid}`,
            BG_SSH_KEY: keyPath,
            BG_KNOWN_HOSTS: path.join(dir, 'known_hosts'),
            BG_LOG_LEVEL: 'INFO',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        while (!out.includes('worker: task queue')) {
          if (child.exitCode !== null) throw new Error(out);
          await new Promise((r) => setTimeout(r, 50));
        }
        const started = Date.now();
        const exited = once(child, 'exit');
        child.kill(signal);
        const [code] = await exited;
        console.log(`worker started in ${started - t0} ms, stopped in ${Date.now() - started} ms`);
        expect(code, out).toBe(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('refuses to start without its secrets, naming the missing variable', async () => {
    const child = spawn(process.execPath, [compiledWorker], {
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), BG_SSH_KEY: '', BG_KNOWN_HOSTS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(err).toMatch(/BG_SSH_KEY is not set/);
  });

  // The key and known_hosts are parsed while the worker registers with Temporal (DESIGN.md, "Worker
  // start-up"): a bad one must still stop the worker, with its own message, before it polls.
  for (const bad of ['key', 'known_hosts'] as const) {
    it(`refuses to start with an unusable ${bad}, exiting 1 before it polls`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-worker-'));
      const keyPath = path.join(dir, 'id_ed25519');
      if (bad === 'key') fs.writeFileSync(keyPath, 'not a key\n');
      else execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
      const knownHosts = path.join(dir, bad === 'known_hosts' ? 'missing_known_hosts' : 'known_hosts');
      if (bad === 'key') fs.writeFileSync(knownHosts, '');
      try {
        const child = spawn(process.execPath, [compiledWorker], {
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: inject('temporalAddress'),
            BG_TASK_QUEUE: `bad-${bad}-${process.pid}`,
            BG_SSH_KEY: keyPath,
            BG_KNOWN_HOSTS: knownHosts,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        const [code] = await once(child, 'exit');
        expect(code, out).toBe(1);
        expect(out).toMatch(
          bad === 'key' ? /worker: SSH private key is unusable: / : /worker: cannot read known_hosts file .*missing_known_hosts/,
        );
        expect(out).not.toContain('worker: task queue');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
