// The baseline's SSH: one ssh2 connection per host, opened once and reused for every command on
// that host, host keys checked against known_hosts with the project's own verifier. No kill
// wrapper, no retries, no heartbeats: the point is the cheapest honest way to run a command. It logs
// in as the product does (one key, parsed and decoded once by parseLoginKey, offered first), since a baseline that
// paid for more than the product would flatter it.
import ssh2 from 'ssh2';
import type { ConnectConfig, ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { hostKeyAlgorithmsFor, verifyHostKey, type KnownHosts } from '../../src/adapters/ssh/known-hosts';
import type { SshTarget } from '../../src/ports/ssh';

const { Client } = ssh2;

export interface ExecOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HostConnection {
  exec(command: string, timeoutMs: number): Promise<ExecOutcome>;
  close(): void;
}

export function connect(target: SshTarget, key: ParsedKey, knownHosts: KnownHosts, timeoutMs = 15_000): Promise<HostConnection> {
  const where = `${target.user}@${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let hostKeyRefused = '';
    let ready = false;
    conn.once('ready', () => {
      ready = true;
      resolve({ exec: (command, ms) => exec(conn, where, command, ms), close: () => conn.end() });
    });
    conn.on('error', (err: Error) => {
      // After 'ready' an error belongs to a command in flight, which reports it through its channel.
      if (!ready) reject(new Error(`${where}: ${hostKeyRefused || err.message}`));
    });
    const algorithms = hostKeyAlgorithmsFor(knownHosts, target.host, target.port);
    const login: PublicKeyAuthMethod = { type: 'publickey', username: target.user, key };
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      // Straight to the key, without ssh2's default "none" attempt first (a round trip per login).
      authHandler: [login],
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        const verdict = verifyHostKey(knownHosts, target.host, target.port, key);
        if (!verdict.ok) hostKeyRefused = `host key refused (${verdict.reason}, saw ${verdict.seen})`;
        return verdict.ok;
      },
      algorithms: algorithms ? { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } : undefined,
    };
    conn.connect(config);
    // As the product does (adapters/ssh/pool.ts): without it Nagle adds ~40 ms per exchange.
    conn.setNoDelay(true);
  });
}

function exec(conn: InstanceType<typeof Client>, where: string, command: string, timeoutMs: number): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${where}: "${command}" did not finish within ${timeoutMs} ms`)), timeoutMs);
    conn.exec(command, (err, ch) => {
      if (err) {
        clearTimeout(timer);
        return reject(new Error(`${where}: could not start "${command}": ${err.message}`));
      }
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      // Both streams must be read, or ssh2 never emits 'close'.
      ch.on('data', (b: Buffer) => (stdout += b.toString()));
      ch.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  });
}

/** Runs `command` and returns its last stdout line; a non-zero exit is an error naming the host. */
export async function run(conn: HostConnection, host: string, command: string, timeoutMs: number): Promise<string> {
  const r = await conn.exec(command, timeoutMs);
  if (r.code !== 0) throw new Error(`${host}: "${command}" exited with ${r.code}: ${(r.stderr || r.stdout).trim().slice(-500)}`);
  return r.stdout.trim().split('\n').pop()?.trim() ?? '';
}
