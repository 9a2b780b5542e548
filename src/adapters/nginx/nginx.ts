// The LoadBalancer port over nginx: one upstream file per pool on the LB host, edited over SSH
// (same pooled client, same pinned host keys as the app hosts) and applied with `nginx -t` and a
// graceful reload. DESIGN.md ("The load balancer") says why it is built this way.
import type { SshPort } from '../../ports/ssh';
import {
  assertSafeName,
  LbCommandError,
  LbProtocolError,
  LbUnavailableError,
  replyStart,
  type AdminState,
  type LoadBalancer,
  type PoolName as Pool,
  type ServerState,
} from '../../ports/lb';
import { renderCommand } from '../../activities/shell';
import { UPSTREAM_ADDRESS_PATTERN } from '../../plan/patterns';
import { SshConnectError, SshTimeoutError, targetName } from '../ssh/errors';
import type { SshTarget } from '../../ports/ssh';
import { httpProbe, type Probe } from './probe';
import { parseReadReply, parseWriteReply, readScript, RemoteReplyError, writeScript, type ReadReply } from './remote';
import {
  effectOf,
  parseUpstreamFile,
  renderUpstreamFile,
  UpstreamFileError,
  withStates,
  type ServerLine,
  type UpstreamLine,
} from './upstream-file';

export interface NginxConfig {
  ssh: SshTarget;
  liveUpstreamFile: string;
  standbyUpstreamFile: string;
  servers: Record<string, string>;
  pidFile: string;
  testCommand: string;
  reloadCommand: string;
  healthPath: string;
}

export interface NginxOptions {
  probe?: Probe;
  probeTimeoutMs?: number;
  /** How long a reload may take to show in nginx's processes. Default 10 s. */
  confirmSeconds?: number;
  /** Per SSH command. Default 45 s (the change script may wait 20 s for the lock and 10 s for the reload). */
  commandTimeoutMs?: number;
}

const STATES: readonly AdminState[] = ['ready', 'drain', 'maint'];

export class NginxLoadBalancer implements LoadBalancer {
  readonly description: string;
  private readonly files: Record<Pool, string>;

  constructor(
    private readonly config: NginxConfig,
    private readonly ssh: SshPort,
    private readonly options: NginxOptions = {},
  ) {
    for (const [name, address] of Object.entries(config.servers)) {
      assertSafeName('server', name);
      // The schema checked the address; checked again because it goes into a file nginx reads.
      if (!UPSTREAM_ADDRESS_PATTERN.test(address))
        throw new LbCommandError(`address of ${name}`, `unsafe upstream address ${JSON.stringify(address.slice(0, 80))}`);
    }
    this.files = { live: config.liveUpstreamFile, standby: config.standbyUpstreamFile };
    this.description = `nginx on ${targetName(config.ssh)}`;
  }

  async readServers(pool: Pool): Promise<ServerState[]> {
    const { reply, running } = await this.read(pool);
    this.assertRunning(reply);
    const lines = running.filter((l): l is ServerLine => l.kind === 'server');
    const probe = this.options.probe ?? httpProbe;
    const timeoutMs = this.options.probeTimeoutMs ?? 2000;
    return Promise.all(
      lines.map(async (l) => ({
        pool,
        server: l.name,
        admin: l.admin,
        status: l.admin === 'ready' ? await probe(l.address, this.config.healthPath, timeoutMs) : l.admin === 'drain' ? 'DRAIN' : 'MAINT',
        // nginx cannot count connections per server. After the graceful reload that drained it,
        // the old workers are what still serves its connections: they exit once those are done.
        sessions: l.admin === 'drain' ? reply.shuttingDown : 0,
      })),
    );
  }

  async setState(pool: Pool, server: string, state: AdminState): Promise<void> {
    await this.setStates(pool, [server], state);
  }

  /** One file write and at most one reload for any number of servers. Idempotent. */
  async setStates(pool: Pool, servers: string[], state: AdminState): Promise<void> {
    if (!STATES.includes(state)) throw new Error(`unknown admin state ${JSON.stringify(state)}`);
    for (const s of servers) assertSafeName('server', s);
    const file = this.fileOf(pool);
    const { reply, onDisk, running } = await this.read(pool);
    this.assertRunning(reply);
    const known = new Set(onDisk.filter((l) => l.kind === 'server').map((l) => (l as ServerLine).name));
    const missing = servers.filter((s) => !known.has(s));
    if (missing.length)
      throw new LbCommandError(
        `set ${missing.join(', ')} ${state} in ${file}`,
        `no such server in the file (it has: ${[...known].join(', ') || 'none'})`,
      );
    // From the file on disk (the operator's latest intent); reload if nginx runs something else.
    const next = withStates(onDisk, servers, state);
    const content = renderUpstreamFile(next);
    const reload = effectOf(next) !== effectOf(running);
    const confirmSeconds = this.options.confirmSeconds ?? 10;
    const script = writeScript({
      file,
      pidFile: this.config.pidFile,
      expected: reply.file,
      content,
      reload,
      testCommand: renderCommand(this.config.testCommand, {}),
      reloadCommand: renderCommand(this.config.reloadCommand, {}),
      confirmSeconds,
    });
    const what = `set ${servers.join(', ')} ${state} in ${file}`;
    const out = await this.exec(script, what);
    let outcome;
    try {
      outcome = parseWriteReply(out.stdout, confirmSeconds);
    } catch (err) {
      throw this.unreadable(err, out.stdout + out.stderr);
    }
    switch (outcome.kind) {
      case 'ok':
        return;
      case 'test-failed':
        throw new LbCommandError(
          what,
          `"${this.config.testCommand}" failed, so the previous file is back and nginx was not reloaded: ${outcome.output || 'no output'}`,
        );
      case 'reload-failed':
        throw new LbCommandError(
          what,
          `"${this.config.reloadCommand}" failed, so the previous file is back: ${outcome.output || 'no output'}`,
        );
      case 'missing':
        throw new LbCommandError(what, `${file} does not exist on the LB host`);
      case 'not-running':
        throw new LbUnavailableError(this.description, 'NOT_RUNNING', outcome.detail);
      case 'changed-meanwhile':
        throw new LbUnavailableError(
          this.description,
          'CONFLICT',
          `${file} changed while the change was prepared; it is read again on retry`,
        );
      case 'lock-busy':
        throw new LbUnavailableError(this.description, 'LOCKED', `another change of ${file} held its lock for 20 s`);
      case 'unconfirmed':
        throw new LbUnavailableError(
          this.description,
          'RELOAD_UNCONFIRMED',
          `nginx did not replace its workers within ${outcome.seconds} s of "${this.config.reloadCommand}"; see its error log`,
        );
    }
  }

  async ping(): Promise<void> {
    await this.readServers('live');
    await this.readServers('standby');
  }

  private fileOf(pool: Pool): string {
    const file = this.files[pool];
    if (file === undefined) throw new Error(`unknown pool ${JSON.stringify(pool)}`);
    return file;
  }

  /** The file as on disk, and as nginx runs it (the copy of the last confirmed reload, else the file). */
  private async read(pool: Pool): Promise<{ reply: ReadReply; onDisk: UpstreamLine[]; running: UpstreamLine[] }> {
    const file = this.fileOf(pool);
    const out = await this.exec(readScript(file, this.config.pidFile), `read ${file}`);
    let reply;
    try {
      reply = parseReadReply(out.stdout, file, this.config.pidFile);
    } catch (err) {
      throw this.unreadable(err, out.stdout + out.stderr);
    }
    if (reply === 'missing')
      throw new LbCommandError(`read ${file}`, `no such file on the LB host; fix the plan's loadBalancer.${pool}UpstreamFile or create it`);
    const parse = (content: string, which: string) => {
      try {
        return parseUpstreamFile(content);
      } catch (err) {
        if (!(err instanceof UpstreamFileError)) throw err;
        throw new LbProtocolError(this.description, `${which}: ${err.problem}`, replyStart(err.line, 200));
      }
    };
    const onDisk = parse(reply.file, file);
    const running = reply.applied === undefined ? onDisk : parse(reply.applied, `${file}.bluegreen-applied`);
    this.checkAddresses(running, file);
    return { reply, onDisk, running };
  }

  /** A server the file sends elsewhere than the plan says is a mismatch to fix, never to overwrite. */
  private checkAddresses(lines: UpstreamLine[], file: string): void {
    for (const l of lines) {
      if (l.kind !== 'server') continue;
      const planned = this.config.servers[l.name];
      if (planned !== undefined && planned !== l.address)
        throw new LbCommandError(
          `read ${file}`,
          `${l.name} is at ${l.address} in the file but at ${planned} in the plan's loadBalancer.servers; fix one of them`,
        );
    }
  }

  private assertRunning(reply: ReadReply): void {
    if (reply.notRunning) throw new LbUnavailableError(this.description, 'NOT_RUNNING', `nginx is not running: ${reply.notRunning}`);
  }

  private async exec(script: string, what: string): Promise<{ stdout: string; stderr: string }> {
    let r;
    try {
      r = await this.ssh.exec(this.config.ssh, script, { timeoutMs: this.options.commandTimeoutMs ?? 45_000 });
    } catch (err) {
      // Unreachable or hung: retryable. A host-key refusal is passed on as it is (never retried).
      if (err instanceof SshConnectError) throw new LbUnavailableError(this.description, `SSH_${err.failure.toUpperCase()}`, err.message);
      if (err instanceof SshTimeoutError) throw new LbUnavailableError(this.description, 'ETIMEDOUT', `${what}: ${err.message}`);
      throw err;
    }
    if (r.code !== 0 && !/^BG-OUT /m.test(r.stdout)) {
      throw new LbCommandError(what, `exited with ${r.code ?? r.signal ?? 'no status'}: ${replyStart((r.stderr || r.stdout).trim(), 400)}`);
    }
    return { stdout: r.stdout, stderr: r.stderr };
  }

  private unreadable(err: unknown, reply: string): Error {
    if (err instanceof RemoteReplyError) return new LbProtocolError(this.description, err.problem, replyStart(reply, 200));
    return err instanceof Error ? err : new Error(String(err));
  }
}

export function nginxFromConfig(config: NginxConfig, ssh: SshPort, options?: NginxOptions): NginxLoadBalancer {
  return new NginxLoadBalancer(
    {
      ssh: { host: config.ssh.host, port: config.ssh.port, user: config.ssh.user },
      liveUpstreamFile: config.liveUpstreamFile,
      standbyUpstreamFile: config.standbyUpstreamFile,
      servers: { ...config.servers },
      pidFile: config.pidFile,
      testCommand: config.testCommand,
      reloadCommand: config.reloadCommand,
      healthPath: config.healthPath,
    },
    ssh,
    options,
  );
}
