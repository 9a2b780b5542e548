// An in-memory fleet for fast tests of the workflow's logic: an LB with live/standby pools, hosts
// with a release, health endpoints. The real lab is used by the integration tests.
import type { ActivityDeps } from '../../src/activities/deps';
import type { LoadBalancer, ServerState } from '../../src/ports/lb';
import type { ExecResult } from '../../src/ports/ssh';
import type { PlanInput } from '../../src/plan/schema';
import { SshConnectError } from '../../src/adapters/ssh/errors';

type Admin = 'ready' | 'drain' | 'maint';
interface FakeServer {
  admin: Admin;
  up: boolean;
  sessions: number;
}

export class FakeFleet {
  readonly pools: Record<'live' | 'standby', Map<string, FakeServer>> = { live: new Map(), standby: new Map() };
  readonly releases = new Map<string, string>();
  readonly healthy = new Map<string, boolean>();
  /** Every change made to the world, in order: proves what a run touched. */
  readonly changes: string[] = [];
  readonly contacted: string[] = [];
  smokeRelease?: string;
  /** host -> release that never becomes healthy on that host (a release broken on one host only). */
  readonly brokenOn = new Map<string, string>();
  /** Hosts whose sshd refuses connections (their health endpoint still answers). */
  readonly unreachable = new Set<string>();
  /**
   * Share of live responses that are 5xx, by "host@release" or by release: a release that passes
   * health and smoke but fails under real traffic. Each counter reading adds 50 responses per
   * server serving in the live pool.
   */
  readonly trafficFailures = new Map<string, number>();
  readonly counters = new Map<string, { responses: number; r5xx: number }>();

  constructor(
    readonly hosts: string[],
    release: string,
  ) {
    for (const h of hosts) {
      this.pools.live.set(h, { admin: 'ready', up: true, sessions: 0 });
      this.pools.standby.set(h, { admin: 'maint', up: false, sessions: 0 });
      this.releases.set(h, release);
      this.healthy.set(h, true);
    }
  }

  private lb(): LoadBalancer {
    const read = async (pool: 'live' | 'standby'): Promise<ServerState[]> => {
      this.contacted.push(`lb:read:${pool}`);
      return [...this.pools[pool]].map(([server, s]) => ({
        pool,
        server,
        admin: s.admin,
        status: s.admin === 'maint' ? 'MAINT' : s.up ? (s.admin === 'drain' ? 'DRAIN' : 'UP') : 'DOWN',
        sessions: s.sessions,
      }));
    };
    return {
      description: 'fake LB',
      readServers: read,
      setState: async (pool, server, state) => {
        const s = this.pools[pool].get(server);
        if (!s) throw Object.assign(new Error('No such server.'), { name: 'LbCommandError' });
        if (s.admin !== state) this.changes.push(`lb:${pool}:${server}:${state}`);
        s.admin = state;
        s.up = state !== 'maint' && (this.healthy.get(server) ?? false);
      },
      ping: async () => {},
      readCounters: async (pool) => {
        this.contacted.push(`lb:counters:${pool}`);
        return [...this.pools[pool]].map(([server, s]) => {
          const c = this.counters.get(server) ?? { responses: 0, r5xx: 0 };
          if (pool === 'live' && s.admin === 'ready' && s.up) {
            const release = this.releases.get(server) ?? '';
            const share = this.trafficFailures.get(`${server}@${release}`) ?? this.trafficFailures.get(release) ?? 0;
            c.responses += 50;
            c.r5xx += Math.round(50 * share);
          }
          this.counters.set(server, c);
          const status = s.admin === 'maint' ? 'MAINT' : s.up ? 'UP' : 'DOWN';
          return { server, status, checkStatus: s.up ? 'L7OK' : 'L7STS', responses: c.responses, r5xx: c.r5xx, errors: 0, rtimeMs: 2 };
        });
      },
    };
  }

  deps(): ActivityDeps {
    return {
      lb: () => this.lb(),
      ssh: {
        exec: async (target, command): Promise<ExecResult> => {
          const host = this.hostByPort(target.port);
          this.contacted.push(`ssh:${host}`);
          if (this.unreachable.has(host)) throw new SshConnectError(target, 'refused', 'connect ECONNREFUSED');
          // The deploy sends `install RELEASE` (shell-quoted, or bare inside the template's own quotes)
          // as a host job's argument (quoted once more), then prints a marker and runs `current` in
          // the same session.
          const install = /install ['"]?([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(command.replaceAll(`'\\''`, `'`));
          if (install?.[1]) {
            if (this.releases.get(host) !== install[1]) this.changes.push(`install:${host}:${install[1]}`);
            this.releases.set(host, install[1]);
            if (this.brokenOn.has(host)) this.healthy.set(host, this.brokenOn.get(host) !== install[1]);
          }
          if (/migrate/.test(command)) this.changes.push(`migrate:${host}`);
          const marker = /printf '\\n%s\\n' (\S+)/.exec(command)?.[1];
          const release = `${this.releases.get(host)}\n`;
          return { code: 0, stdout: marker ? `installed\n${marker}\n${release}` : release, stderr: '' };
        },
      },
      http: {
        checkHealth: async (url, { expectRelease }) => {
          const host = new URL(url).hostname.split('.')[0] ?? '';
          this.contacted.push(`http:${host}`);
          const release = this.releases.get(host);
          const ok = (this.healthy.get(host) ?? false) && (!expectRelease || release === expectRelease);
          return { ok, status: ok ? 200 : 503, release, host, reason: ok ? '' : `expected ${expectRelease}, got ${release}`, ms: 0 };
        },
        smokeTest: async (base, _test, { release }) => {
          const candidates = [...this.pools.standby].filter(([, s]) => s.admin === 'ready').map(([h]) => h);
          // A host's own URL (http://NAME.fake/...) is a direct request; anything else is the pool's round robin.
          const direct =
            new URL(base).hostname.endsWith('.fake') && base !== 'http://standby.fake' ? new URL(base).hostname.split('.')[0] : undefined;
          const host = direct ?? candidates[this.contacted.length % Math.max(1, candidates.length)];
          this.contacted.push(`smoke:${host}`);
          const served = this.smokeRelease ?? (host ? this.releases.get(host) : undefined);
          const ok = served === release;
          return { ok, status: 200, release: served, host, reason: ok ? '' : `expected release ${release}, got ${served}`, ms: 0 };
        },
      },
    };
  }

  private hostByPort(port: number): string {
    const h = this.hosts[port - 10_000];
    if (!h) throw new Error(`no fake host on port ${port}`);
    return h;
  }

  /** A plan for this fleet: host i listens for SSH on port 10000+i, health at http://NAME.fake/health. */
  plan(overrides: Partial<PlanInput> = {}): PlanInput {
    const cluster = (name: string) => ({
      hosts: this.hosts
        .map((h, i) => ({ h, i }))
        .filter(({ h }) => h.startsWith(name))
        .map(({ h, i }) => ({
          name: h,
          ssh: { host: '127.0.0.1', port: 10_000 + i, user: 'deploy' },
          healthUrl: `http://${h}.fake/health`,
        })),
    });
    return {
      environment: 'fake',
      release: 'v2',
      currentRelease: 'v1',
      order: ['green', 'blue'],
      clusters: { green: cluster('green'), blue: cluster('blue') },
      loadBalancer: {
        type: 'haproxy',
        runtimeApi: { socket: '/nonexistent/admin.sock' },
        liveBackend: 'live',
        standbyBackend: 'standby',
        standbyUrl: 'http://standby.fake',
      },
      commands: { install: '/opt/app/bin/install {release}', currentRelease: '/opt/app/bin/current' },
      smoke: [{ path: '/smoke', expectStatus: 200, expectRelease: true }],
      health: { path: '/health', timeoutSeconds: 5, intervalMs: 100 },
      drain: { deadlineSeconds: 5 },
      ...overrides,
    };
  }
}
