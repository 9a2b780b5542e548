// The fan-out over a cluster's hosts, inside one activity: Temporal sees one activity per cluster
// and step, not one per host and command, so a run's history and its heartbeat traffic grow with
// the number of clusters, not with hosts. Per-host outcomes come back as data; the workflow decides.
import type { ActivityDeps } from './deps';
import { HostFailure, installRelease, readRelease, waitHealthy, withRetries } from './remote';
import type { DeployInput, DeployReport, HostInspection, HostOutcome, InspectInput } from './types';

/** SSH attempts per host and command; each already waits up to the connect timeout. */
export const SSH_ATTEMPTS = 3;

/** Runs `fn` over `items` with at most `limit` at once; stops taking new items once `stop()` says so. */
export async function eachBounded<T>(items: T[], limit: number, stop: () => boolean, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length && !stop()) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}

/**
 * Preflight's reads (and a failed rollback's): every host's release over SSH and its health over
 * HTTP, both at once, `concurrency` hosts at a time. Read-only, so wider than the deploy's parallelism.
 */
export async function inspectFleet(deps: ActivityDeps, input: InspectInput, signal?: AbortSignal): Promise<HostInspection[]> {
  const out: HostInspection[] = [];
  await eachBounded(
    input.hosts,
    input.concurrency,
    () => signal?.aborted === true,
    async (host) => {
      const r: HostInspection = { host: host.name };
      const release = input.currentReleaseCommand
        ? withRetries(SSH_ATTEMPTS, signal, () => readRelease(deps.ssh, host, input.currentReleaseCommand as string, signal)).then(
            (v) => void (r.release = v),
            (err: unknown) => {
              if (!(err instanceof HostFailure)) throw err;
              r.error = err.message;
              r.errorType = err.type;
            },
          )
        : undefined;
      const health = deps.http
        .checkHealth(host.healthUrl, { expectRelease: input.expectRelease, timeoutMs: input.healthTimeoutSeconds * 1000, signal })
        .then((h) => {
          r.healthy = h.ok;
          if (!h.ok) r.healthReason = h.reason;
          if (h.release) r.reportedRelease = h.release;
        });
      await Promise.all([release, health]);
      out.push(r);
    },
  );
  const order = new Map(input.hosts.map((h, i) => [h.name, i]));
  return out.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
}

export interface DeployControl {
  /** Set: take no new host (cancellation, or the workflow's abort). In-flight installs finish. */
  stopping: () => boolean;
  /** Aborts waits that change nothing (health polling) at once. */
  signal?: AbortSignal;
  /** Hosts already installed and healthy (by an earlier attempt): skipped, reported ok. */
  done: Set<string>;
  /** The same for every attempt of this step (run and activity): a retry collects the install in flight. */
  jobKey?: string[];
  /** Filled while hosts are being installed or checked, and with those that failed (for progress reports). */
  inFlight?: Set<string>;
  failed?: Set<string>;
}

/**
 * Step 2 for one cluster: install the release on each host (at most `parallelism` at once) and wait
 * until each is healthy on it. The first failure stops the cluster: no new host is started, the
 * ones in flight finish, and every host's outcome is reported.
 */
export async function deployFleet(deps: ActivityDeps, input: DeployInput, control: DeployControl): Promise<DeployReport> {
  const outcomes = new Map<string, HostOutcome>();
  for (const h of input.hosts) if (control.done.has(h.name)) outcomes.set(h.name, { host: h.name, ok: true, release: input.release });
  let failed: string | undefined;
  const todo = input.hosts.filter((h) => !control.done.has(h.name));
  const standby = input.standbyHold ? deps.lb(input.standbyHold) : undefined;
  await eachBounded(
    todo,
    input.parallelism,
    () => failed !== undefined || control.stopping(),
    async (host) => {
      control.inFlight?.add(host.name);
      try {
        // Idempotent, so a retried attempt simply sets it again.
        await standby?.setState('standby', host.name, 'maint');
        // An install is not interrupted once started (a half-applied install is worse than a finished
        // one): it runs detached on the host, and a retry of a connection that failed collects it.
        await withRetries(SSH_ATTEMPTS, control.signal, () =>
          installRelease(deps.ssh, host, input.commands, input.release, {
            timeoutMs: input.installTimeoutSeconds * 1000,
            jobKey: control.jobKey,
          }),
        );
        await waitHealthy(deps.http.checkHealth, host, input.release, input.health, control.signal);
        await standby?.setState('standby', host.name, 'ready');
        control.done.add(host.name);
        outcomes.set(host.name, { host: host.name, ok: true, release: input.release });
      } catch (err) {
        if (!(err instanceof HostFailure)) {
          if (control.signal?.aborted) return; // stopped, not failed
          throw err;
        }
        failed ??= host.name;
        control.failed?.add(host.name);
        // What runs there is unknown after a failed install: the workflow must not assume either release.
        outcomes.set(host.name, { host: host.name, ok: false, release: null, error: err.message, errorType: err.type });
      } finally {
        control.inFlight?.delete(host.name);
      }
    },
  );
  return {
    hosts: input.hosts.map((h) => outcomes.get(h.name)).filter((o): o is HostOutcome => o !== undefined),
    firstFailure: failed,
  };
}
