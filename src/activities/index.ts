// The activities, built by a factory from their dependencies (createActivities({ ssh, lb, http })).
// Each one is idempotent: it reads the current state and does only what is missing, so a retry or
// a replay after a worker crash is harmless.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import { assertSafeRelease, renderCommand, describeValue } from './shell';
import { drainAndWait, ensureState, waitUntilUp } from './lb';
import { HealthCheckFailed, waitUntilHealthy } from './http-check';
import type {
  DrainInput,
  HealthInput,
  HealthReport,
  InstallInput,
  LbServerView,
  MigrateInput,
  ReadHostReleaseInput,
  LeavePoolInput,
  SmokeInput,
  SmokeReport,
  WaitUpInput,
  LbConfig,
} from './types';
import { runOnHost } from './remote';
import { RELEASE_PATTERN } from '../plan/schema';

export function createActivities({ ssh, lb, http }: ActivityDeps) {
  return {
    async readLoadBalancer(config: LbConfig): Promise<LbServerView[]> {
      const balancer = lb(config);
      const [live, standby] = await Promise.all([balancer.readServers('live'), balancer.readServers('standby')]);
      return [...live, ...standby].map((s) => ({ server: s.server, pool: s.pool, admin: s.admin, status: s.status, sessions: s.sessions }));
    },

    async readHostRelease({ host, command }: ReadHostReleaseInput): Promise<string> {
      const out = await runOnHost(ssh, host, command, { timeoutMs: 60_000, what: 'print the current release' });
      return parseRelease(host.name, out);
    },

    async probeHealth({ host, release, timeoutSeconds }: HealthInput): Promise<HealthReport> {
      const r = await http.checkHealth(host.healthUrl, { expectRelease: release, timeoutMs: timeoutSeconds * 1000 });
      return { ok: r.ok, release: r.release, status: r.status, reason: r.reason };
    },

    async drainFromLive({ lb: config, servers, deadlineSeconds }: DrainInput): Promise<void> {
      const balancer = lb(config);
      const ctx = Context.current();
      // Refuses before touching anything if no UP server would remain live (EmptyLivePoolError).
      await drainAndWait(balancer, servers, {
        deadlineMs: deadlineSeconds * 1000,
        pollMs: 250,
        signal: ctx.cancellationSignal,
        onProgress: (p) => ctx.heartbeat({ sessions: p.sessions }),
      });
      await ensureState(balancer, 'live', servers, 'maint');
    },

    async enterPool({ lb: config, pool, servers, deadlineSeconds }: WaitUpInput): Promise<void> {
      const balancer = lb(config);
      const ctx = Context.current();
      await ensureState(balancer, pool, servers, 'ready');
      // deadlineSeconds 0: the hosts are about to restart, so UP is awaited later (verify).
      if (deadlineSeconds > 0) {
        await waitUntilUp(balancer, pool, servers, {
          deadlineMs: deadlineSeconds * 1000,
          pollMs: 250,
          signal: ctx.cancellationSignal,
          onProgress: (statuses) => ctx.heartbeat({ statuses }),
        });
      }
    },

    async leavePool({ lb: config, pool, servers }: LeavePoolInput): Promise<void> {
      if (pool === 'live') {
        // Leaving the live pool always goes through drainFromLive, which waits for sessions.
        throw ApplicationFailure.nonRetryable('servers leave the live pool only by draining (drainFromLive)', 'LbCommandError');
      }
      await ensureState(lb(config), pool, servers, 'maint');
    },

    async installRelease({ host, command, release }: InstallInput): Promise<string> {
      assertSafeRelease(release);
      const out = await runOnHost(ssh, host, renderCommand(command, { release }), {
        timeoutMs: 5 * 60_000,
        what: `install ${release}`,
      });
      const now = parseRelease(host.name, out);
      if (now !== release) {
        throw ApplicationFailure.nonRetryable(
          `${host.name}: the install command finished but the host reports release "${now}", not "${release}"`,
          'ReleaseMismatch',
        );
      }
      return now;
    },

    async waitHealthy({ host, release, timeoutSeconds, intervalMs }: HealthInput): Promise<HealthReport> {
      const ctx = Context.current();
      try {
        const r = await waitUntilHealthy(host.healthUrl, {
          release,
          deadlineMs: timeoutSeconds * 1000,
          intervalMs,
          timeoutMs: Math.min(5000, intervalMs * 4),
          signal: ctx.cancellationSignal,
          check: http.checkHealth,
          onAttempt: (a, attempts) => ctx.heartbeat({ attempts, last: a.reason }),
        });
        return { ok: r.ok, release: r.release, status: r.status, reason: r.reason };
      } catch (err) {
        if (!(err instanceof HealthCheckFailed)) throw err;
        throw ApplicationFailure.nonRetryable(
          `${host.name} did not become healthy on ${release} within ${timeoutSeconds} s (${err.attempts} checks of ${host.healthUrl}); last: ${err.last.reason}`,
          'HealthCheckFailed',
        );
      }
    },

    async smokeTest({ standbyUrl, tests, release, hosts }: SmokeInput): Promise<SmokeReport> {
      const ctx = Context.current();
      const seen = new Set<string>();
      let passed = 0;
      // Enough rounds that the standby pool's round robin reaches every host of the cluster.
      const rounds = Math.max(2, hosts.length * 2);
      for (const t of tests) {
        for (let i = 0; i < rounds; i++) {
          const r = await http.smokeTest(standbyUrl, t, { release, timeoutMs: t.timeoutSeconds * 1000 });
          if (r.host) {
            if (!hosts.includes(r.host)) {
              throw ApplicationFailure.nonRetryable(
                `smoke test ${t.path} was answered by ${describeValue(r.host)}, which is not in the cluster under test (${hosts.join(', ')})`,
                'SmokeTestFailed',
              );
            }
            seen.add(r.host);
          }
          if (!r.ok) {
            throw ApplicationFailure.nonRetryable(
              `smoke test GET ${t.path} through the standby pool failed${r.host ? ` on ${r.host}` : ''}: ${r.reason}`,
              'SmokeTestFailed',
            );
          }
          passed++;
          ctx.heartbeat({ passed });
        }
      }
      return { passed, hostsSeen: [...seen].sort() };
    },

    async runMigration({ host, command, release }: MigrateInput): Promise<string> {
      assertSafeRelease(release);
      const out = await runOnHost(ssh, host, renderCommand(command, { release }), { timeoutMs: 55 * 60_000, what: 'migrate' });
      return out.slice(-2000);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

function parseRelease(host: string, stdout: string): string {
  const line = stdout.trim().split('\n').pop()?.trim() ?? '';
  // Replacement characters mean the output was not text: say so rather than quote noise.
  if (/\uFFFD/.test(stdout) || /[\0-\x08\x0e-\x1f]/.test(line)) {
    throw ApplicationFailure.nonRetryable(
      `${host} printed binary output (${Buffer.byteLength(stdout)} bytes kept) where a release name was expected`,
      'UnsafeValueError',
    );
  }
  if (!RELEASE_PATTERN.test(line)) {
    throw ApplicationFailure.nonRetryable(`${host} printed ${describeValue(line)} where a release name was expected`, 'UnsafeValueError');
  }
  return line;
}
