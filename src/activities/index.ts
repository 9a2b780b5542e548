// The activities, built by a factory from their dependencies (createActivities({ ssh, lb, http })).
// Each one is idempotent: it reads the current state and does only what is missing, so a retry or
// a replay after a worker crash is harmless.
import { setMaxListeners } from 'node:events';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { LbConfig, PoolName, ServerCounters, ServerState } from '../ports/lb';
import type { ActivityDeps } from './deps';
import type { WebhookPort } from '../ports/webhooks';
import { assertSafeRelease, renderCommand } from './shell';
import { UnknownServerError, drainAndWait, ensureState, readPools, readyAndRoutable, waitUntilUp } from './lb';
import { deployFleet, inspectFleet } from './fleet';
import { DEFAULT_COVERAGE, PoolNotConfirmed, emptyProgress, runSmoke, smokeBudget, SmokeFailure } from './smoke';
import { withHeartbeat, resumedFrom } from './heartbeat';
import { HostFailure, hostJobId, runJobOnHost } from './remote';
import { deliver } from './notify';
import type { NotifyInput, NotifyReport } from './notify-types';
import {
  isDeployProgress,
  type DeployProgress,
  type DeployInput,
  type DeployReport,
  type DrainInput,
  type FleetReadInput,
  type FleetView,
  type HostInspection,
  type InspectInput,
  type MigrateInput,
  type LeavePoolInput,
  isSmokeProgress,
  type SmokeInput,
  type SmokeReport,
  type WaitUpInput,
  type CountersInput,
} from './types';

export function createActivities({ ssh, lb, http, webhooks }: ActivityDeps) {
  // A worker built without the port knows no webhook: each reports so in the run's status.
  const hooks: WebhookPort = webhooks ?? {
    lookup: (name) => ({ error: `webhook ${name} is not configured: this worker was started without webhook settings` }),
    post: async () => ({ ok: false, retryable: false, error: 'no webhook settings' }),
  };
  /**
   * Ready in `pool` (only what is not), then UP there within `deadlineSeconds`. Deadline 0: no wait
   * (step 1: the hosts are about to restart, UP is awaited in verify).
   */
  async function enterAndWaitUp(
    config: LbConfig,
    pool: PoolName,
    servers: string[],
    deadlineSeconds: number,
    signal: AbortSignal,
    onProgress?: (statuses: Record<string, string>) => void,
  ) {
    const balancer = lb(config);
    await ensureState(balancer, pool, servers, 'ready');
    if (deadlineSeconds > 0)
      await waitUntilUp(balancer, pool, servers, { deadlineMs: deadlineSeconds * 1000, pollMs: 250, signal, onProgress });
    return balancer;
  }

  return {
    async readLoadBalancer(config: LbConfig): Promise<ServerState[]> {
      return readPools(lb(config));
    },

    /**
     * The bake's reading: cumulative response counters of `servers` in one pool. Read-only and quick;
     * a retry (or another worker) simply reads again, and the workflow keeps the window's start.
     */
    async readCounters({ lb: config, pool, servers }: CountersInput): Promise<ServerCounters[]> {
      const balancer = lb(config);
      if (!balancer.readCounters) {
        throw ApplicationFailure.nonRetryable(
          `${balancer.description} does not count responses per server: a bake needs HAProxy`,
          'CountersUnsupported',
        );
      }
      const all = await balancer.readCounters(pool);
      const byName = new Map(all.map((c) => [c.server, c]));
      const missing = servers.filter((s) => !byName.has(s));
      if (missing.length) throw new UnknownServerError(pool, missing, [...byName.keys()]);
      return servers.map((s) => byName.get(s)!);
    },

    /** Preflight's reads: every host's release (SSH) and health (HTTP), many hosts at once. */
    async inspectHosts(input: InspectInput): Promise<HostInspection[]> {
      const ctx = Context.current();
      return withHeartbeat(
        () => ({ hosts: input.hosts.length }),
        () => inspectFleet({ ssh, lb, http }, input, ctx.cancellationSignal),
      );
    },

    /**
     * All of preflight's reads in one activity, both at once: the pools (as readLoadBalancer) and
     * every host (as inspectHosts). One Temporal round trip instead of two. Read-only, so a retry
     * simply reads again.
     */
    async readFleet({ lb: config, ...input }: FleetReadInput): Promise<FleetView> {
      const ctx = Context.current();
      const [servers, hosts] = await withHeartbeat(
        () => ({ hosts: input.hosts.length }),
        () => Promise.all([readPools(lb(config)), inspectFleet({ ssh, lb, http }, input, ctx.cancellationSignal)]),
      );
      return { servers, hosts };
    },

    async drainFromLive({ lb: config, servers, deadlineSeconds, enterStandby }: DrainInput): Promise<void> {
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
      if (enterStandby) await ensureState(balancer, 'standby', servers, 'ready');
    },

    async enterPool({ lb: config, pool, servers, deadlineSeconds, leaveStandby }: WaitUpInput): Promise<void> {
      if (leaveStandby && (pool !== 'live' || deadlineSeconds <= 0)) {
        // Out of standby only once UP in live: the cluster must never be in neither pool.
        throw ApplicationFailure.nonRetryable('leaveStandby needs pool live and a deadline to wait for UP', 'PlanError');
      }
      const ctx = Context.current();
      const balancer = await enterAndWaitUp(config, pool, servers, deadlineSeconds, ctx.cancellationSignal, (statuses) =>
        ctx.heartbeat({ statuses }),
      );
      if (leaveStandby) await ensureState(balancer, 'standby', servers, 'maint');
    },

    async leavePool({ lb: config, pool, servers }: LeavePoolInput): Promise<void> {
      if (pool === 'live') {
        // Leaving the live pool always goes through drainFromLive, which waits for sessions.
        throw ApplicationFailure.nonRetryable('servers leave the live pool only by draining (drainFromLive)', 'LbCommandError');
      }
      await ensureState(lb(config), pool, servers, 'maint');
    },

    /**
     * Step 2 for a whole cluster. A retried attempt (the worker died) resumes: hosts the previous
     * attempt saw healthy on the release are not installed again. Cancellation (abort, cancel) takes
     * no new host and lets the installs in flight finish, so the rollback never races one.
     */
    async deployHosts(input: DeployInput): Promise<DeployReport> {
      assertSafeRelease(input.release);
      const ctx = Context.current();
      const done = new Set(resumedFrom(isDeployProgress)?.done ?? []);
      const inFlight = new Set<string>();
      const failed = new Set<string>();
      const progress = (): DeployProgress => ({
        done: [...done],
        inFlight: [...inFlight],
        failed: [...failed],
        cluster: input.cluster,
        total: input.hosts.length,
      });
      const report = await withHeartbeat(progress, () =>
        deployFleet({ ssh, lb, http }, input, {
          stopping: () => ctx.cancellationSignal.aborted,
          signal: ctx.cancellationSignal,
          done,
          jobKey: jobKeyOf(ctx),
          inFlight,
          failed,
        }),
      );
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('deploy stopped: the activity was cancelled');
      return report;
    },

    /**
     * Step 3's smoke tests (smoke.ts): every test through the standby pool, and every host shown to
     * pass each test. A retried attempt resumes from the previous one's heartbeat: pool requests
     * already passed and hosts already proven are not asked again.
     */
    async smokeTest(input: SmokeInput): Promise<SmokeReport> {
      const ctx = Context.current();
      const progress = resumedFrom(isSmokeProgress) ?? emptyProgress();
      let budget: ReturnType<typeof smokeBudget> | undefined;
      try {
        return await withHeartbeat(
          () => progress,
          async () => {
            const up = input.standbyUp;
            const standby = up ? lb(up.lb) : undefined;
            // A retry waits again (cheap once UP); meanwhile the heartbeat names who is not UP yet.
            const waitUp = async (servers: string[], enough?: AbortSignal) => {
              if (!standby || !up) return;
              await waitUntilUp(standby, 'standby', servers, {
                deadlineMs: up.deadlineSeconds * 1000,
                pollMs: 250,
                signal: enough ? AbortSignal.any([ctx.cancellationSignal, enough]) : ctx.cancellationSignal,
                onProgress: (statuses) => {
                  progress.notUp = Object.fromEntries(Object.entries(statuses).filter(([, st]) => st !== 'UP'));
                },
              });
              delete progress.notUp;
            };
            // HAProxy checks a server that left maint only at its next `inter` (2 s by default), and
            // routes to it meanwhile ("UP 1/2"). When every host takes requests, the tests start at
            // once: a passing response naming a host proves the path to it; only the hosts no
            // response named wait for the check (pool mode needs every host named: it waits first).
            const early =
              standby !== undefined &&
              (await readyAndRoutable(standby, 'standby', input.hosts)) &&
              (input.coverage ?? DEFAULT_COVERAGE).mode !== 'pool';
            if (standby && !early) await waitUp(input.hosts);
            budget = input.deadlineSeconds !== undefined ? smokeBudget(input.deadlineSeconds * 1000) : undefined;
            const b = budget;
            const outside = <T>(fn: () => Promise<T>) => (b ? b.outside(fn) : fn());
            const signal = b ? AbortSignal.any([ctx.cancellationSignal, b.signal]) : ctx.cancellationSignal;
            setMaxListeners(0, signal); // one listener per request in flight, as in withHeartbeat
            if (!early) return runSmoke(http, input, { signal, progress });
            try {
              return await runSmoke(http, input, {
                signal,
                progress,
                untilRoutable: (hosts, enough) => outside(() => waitUp(hosts, enough)),
              });
            } catch (err) {
              if (!(err instanceof PoolNotConfirmed)) throw err;
              await outside(() => waitUp(input.hosts));
              return await runSmoke(http, input, { signal, progress });
            }
          },
        );
      } catch (err) {
        if (err instanceof SmokeFailure) throw ApplicationFailure.nonRetryable(err.message, 'SmokeTestFailed');
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('smoke tests stopped: the activity was cancelled');
        if (budget?.signal.aborted) {
          const done = progress.pool.reduce((a, b) => a + b, 0);
          throw ApplicationFailure.nonRetryable(
            `smoke tests of ${input.hosts.length} hosts did not finish within their budget of ${input.deadlineSeconds} s (derived from the plan's smoke tests): ` +
              `${done} requests through the standby pool passed, ${progress.direct.length} hosts tested directly`,
            'SmokeTestFailed',
          );
        }
        throw err;
      } finally {
        budget?.clear();
      }
    },

    /**
     * Step 6. The migration runs as a detached job on the host: a worker crash, a restart or a lost
     * connection does not kill it half-applied, and the retry (same run, same activity, same job id)
     * waits for it and collects its outcome instead of running it again. A cancellation stops the
     * wait only: killing a migration half-way is the worst outcome.
     */
    async runMigration({ host, command, release }: MigrateInput): Promise<string> {
      assertSafeRelease(release);
      const ctx = Context.current();
      const rendered = renderCommand(command, { release });
      const key = [...jobKeyOf(ctx), 'migrate', release];
      try {
        const out = await withHeartbeat(
          () => ({ host: host.name }),
          () => runJobOnHost(ssh, host, rendered, key, { timeoutMs: 55 * 60_000, what: 'migrate', signal: ctx.cancellationSignal }),
        );
        return out.slice(-2000);
      } catch (err) {
        if (ctx.cancellationSignal.aborted) {
          throw new CancelledFailure(
            `stopped waiting for the migration on ${host.name}; the migration itself was not stopped and may still be running there: ` +
              `its output and exit status are in j-${hostJobId(host, key, rendered)} under $BLUEGREEN_JOBS_DIR or ~/.bluegreen/jobs on the host`,
          );
        }
        if (err instanceof HostFailure) throw hostFailure(err);
        throw err;
      }
    },

    /**
     * Delivers a run's events to its webhooks (notify.ts). Never fails for a receiver that is down,
     * slow or broken: the report counts what was delivered and what was given up on.
     */
    async notify(input: NotifyInput): Promise<NotifyReport> {
      const ctx = Context.current();
      return withHeartbeat(
        () => ({ events: input.events.length }),
        () => deliver(input, hooks, ctx.cancellationSignal),
      );
    },
  };
}

/** What identifies this step of this run for host jobs: the same on every attempt, on any worker. */
function jobKeyOf(ctx: Context): string[] {
  const { workflowExecution, activityId } = ctx.info;
  return [workflowExecution?.workflowId ?? '', workflowExecution?.runId ?? '', activityId];
}

/** A host's failure as Temporal sees it: retryable only if the SSH layer says it may heal. */
function hostFailure(err: HostFailure): ApplicationFailure {
  return err.retryable ? ApplicationFailure.retryable(err.message, err.type) : ApplicationFailure.nonRetryable(err.message, err.type);
}

export type Activities = ReturnType<typeof createActivities>;
