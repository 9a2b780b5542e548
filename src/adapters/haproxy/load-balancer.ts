// The LoadBalancer interface over HAProxy's Runtime API (stats socket at `level admin`).
// Pools map to backends by config; every name is checked against LB_NAME_PATTERN before a
// command is built, so nothing from a plan can add a second command to the line.
import {
  assertSafeName,
  LB_NAME_PATTERN,
  LbCommandError,
  LbProtocolError,
  replyStart,
  type AdminState,
  type LoadBalancer,
  type PoolName,
  type ServerCounters,
  type ServerState,
} from '../../ports/lb';
import { parseServerCounters } from './counters';
import {
  describeAddress,
  expectEmptyReply,
  parseServersState,
  parseShowStat,
  runtimeCommand,
  type RuntimeAddress,
  type RuntimeOptions,
} from './runtime-api';

export type { RuntimeAddress, RuntimeOptions } from './runtime-api';

export interface HaproxyConfig {
  /** Unix socket path, or host:port of a `stats socket ipv4@...` line. */
  runtimeApi: RuntimeAddress;
  liveBackend: string;
  standbyBackend: string;
}

const STATES: readonly AdminState[] = ['ready', 'drain', 'maint'];

export class HaproxyLoadBalancer implements LoadBalancer {
  readonly description: string;
  private readonly backends: Record<PoolName, string>;

  constructor(
    private readonly config: HaproxyConfig,
    private readonly options: RuntimeOptions = {},
  ) {
    assertSafeName('backend', config.liveBackend);
    assertSafeName('backend', config.standbyBackend);
    this.backends = { live: config.liveBackend, standby: config.standbyBackend };
    this.description = `HAProxy ${describeAddress(config.runtimeApi)}`;
  }

  backendOf(pool: PoolName): string {
    const backend = this.backends[pool];
    if (backend === undefined) throw new Error(`unknown pool ${JSON.stringify(pool)}`);
    return backend;
  }

  async readServers(pool: PoolName): Promise<ServerState[]> {
    const backend = this.backendOf(pool);
    const where = describeAddress(this.config.runtimeApi);
    const statCmd = `show stat ${backend} 4 -1`;
    const stateCmd = `show servers state ${backend}`;
    // Two commands, two connections (one command per connection keeps the protocol trivial), sent
    // at once: a read costs one round trip, and the wait loops poll every 25 ms at first.
    const [statReply, stateReply] = await Promise.allSettled([this.send(statCmd), this.send(stateCmd)]);
    let stats;
    try {
      if (statReply.status === 'rejected') throw statReply.reason;
      stats = parseShowStat(where, statCmd, backend, statReply.value);
    } catch (err) {
      throw await this.explainMissingBackend(err, pool, backend);
    }
    if (stateReply.status === 'rejected') throw stateReply.reason;
    const admin = parseServersState(where, stateCmd, backend, stateReply.value);
    const statNames = stats.map((s) => s.server).sort();
    const stateNames = [...admin.keys()].sort();
    if (statNames.join(' ') !== stateNames.join(' ')) {
      throw new LbProtocolError(
        where,
        `"show stat" and "show servers state" list different servers for ${backend}`,
        replyStart(`${statNames.join(',')} / ${stateNames.join(',')}`),
      );
    }
    return stats.map((s) => ({ pool, server: s.server, admin: admin.get(s.server)!, status: s.status, sessions: s.sessions }));
  }

  /** The per-server response counters of one pool's backend, from one `show stat` reply. */
  async readCounters(pool: PoolName): Promise<ServerCounters[]> {
    const backend = this.backendOf(pool);
    const where = describeAddress(this.config.runtimeApi);
    const statCmd = `show stat ${backend} 4 -1`;
    try {
      const reply = await this.send(statCmd);
      parseShowStat(where, statCmd, backend, reply); // the same checks of shape and rows as readServers
      return parseServerCounters(where, backend, reply);
    } catch (err) {
      throw await this.explainMissingBackend(err, pool, backend);
    }
  }

  /** A backend the plan names but HAProxy does not have: say which exist and what to fix. */
  private async explainMissingBackend(err: unknown, pool: PoolName, backend: string): Promise<unknown> {
    if (!(err instanceof LbCommandError)) return err;
    let known = '';
    try {
      const names = (await this.send('show backend'))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#') && LB_NAME_PATTERN.test(l));
      known = names.length > 0 ? `; its backends are: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}` : '';
    } catch {
      // The listing is a hint only; the refusal itself is the error.
    }
    // Same type and reply (non-retryable LbCommandError), with a message an operator can act on.
    err.message =
      `${err.message} — HAProxy ${describeAddress(this.config.runtimeApi)} has no backend "${backend}"${known}. ` +
      `Fix the plan's loadBalancer.${pool}Backend`;
    return err;
  }

  async setState(pool: PoolName, server: string, state: AdminState): Promise<void> {
    assertSafeName('server', server);
    if (!STATES.includes(state)) throw new Error(`unknown admin state ${JSON.stringify(state)}`);
    const command = `set server ${this.backendOf(pool)}/${server} state ${state}`;
    // HAProxy's own `set server` is idempotent: setting the current state is a no-op.
    expectEmptyReply(command, await this.send(command));
  }

  async ping(): Promise<void> {
    await this.readServers('live');
    await this.readServers('standby');
  }

  private send(command: string): Promise<string> {
    return runtimeCommand(this.config.runtimeApi, command, this.options);
  }
}

/** From the plan's `loadBalancer` block (extra fields such as URLs are ignored). */
export function haproxyFromConfig(config: HaproxyConfig, options?: RuntimeOptions): HaproxyLoadBalancer {
  const runtimeApi: RuntimeAddress =
    'socket' in config.runtimeApi ? { socket: config.runtimeApi.socket } : { host: config.runtimeApi.host, port: config.runtimeApi.port };
  return new HaproxyLoadBalancer({ runtimeApi, liveBackend: config.liveBackend, standbyBackend: config.standbyBackend }, options);
}
