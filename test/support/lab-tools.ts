// Test helpers for the lab: a free base port, and SSH over ssh2 with host keys checked against a
// known_hosts file (deliberately tiny; the product's parser lives in src/adapters/ssh/known-hosts.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client } from 'ssh2';

/**
 * A base port per test file and process: below Linux's ephemeral range (32768+), away from the
 * demo lab's default 22000, and a lab spans 500 ports.
 */
export function testBasePort(slot: number): number {
  return 23000 + ((process.pid * 7 + slot * 5) % 19) * 500;
}

export function tempLabDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bg-${prefix}-`));
}

/** Base64 key blobs that known_hosts lists for [host]:port (plain entries only). */
export function knownKeys(knownHostsFile: string, port: number, host = '127.0.0.1'): Set<string> {
  const want = port === 22 ? host : `[${host}]:${port}`;
  const keys = new Set<string>();
  for (const line of fs.readFileSync(knownHostsFile, 'utf8').split('\n')) {
    const [hosts, , b64] = line.trim().split(/\s+/);
    if (hosts && b64 && hosts.split(',').includes(want)) keys.add(b64);
  }
  return keys;
}

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function sshExec(opts: {
  port: number;
  user: string;
  keyPath: string;
  knownHosts: string;
  command: string;
  readyTimeout?: number;
}): Promise<ShellResult> {
  const keys = knownKeys(opts.knownHosts, opts.port);
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn.on('error', reject);
    // A connection cut before the command ran (e.g. sshd killed mid-handshake by lab down) ends with
    // 'close' and no 'error': settle then too, or the caller waits forever. No-op once resolved.
    conn.on('close', () => reject(new Error('SSH connection closed before the command finished')));
    conn.on('ready', () => {
      conn.exec(opts.command, (err, stream) => {
        if (err) {
          conn.end();
          return reject(err);
        }
        let stdout = '';
        let stderr = '';
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        stream.on('close', (code: number | null) => {
          conn.end();
          resolve({ code, stdout, stderr });
        });
      });
    });
    conn.connect({
      host: '127.0.0.1',
      port: opts.port,
      username: opts.user,
      privateKey: fs.readFileSync(opts.keyPath),
      readyTimeout: opts.readyTimeout ?? 10_000,
      // Without a hostVerifier ssh2 accepts any host key: only keys listed in known_hosts pass.
      hostVerifier: (key: Buffer) => keys.has(key.toString('base64')),
    });
  });
}

/** Listening TCP ports on this machine, from `ss -ltnH`. */
export function listeningPorts(): Set<number> {
  const out = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' });
  const ports = new Set<number>();
  for (const line of out.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const port = Number(local?.slice(local.lastIndexOf(':') + 1));
    if (port) ports.add(port);
  }
  return ports;
}

/** True while the PID names a live, non-zombie process. */
export function processExists(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return { status: res.status, body, headers: res.headers };
}
