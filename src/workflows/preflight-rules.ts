// Preflight's rules (step 0), pure: what makes a host or the LB unfit to start. The workflow and
// `bluegreen plan check` apply the same rules to the same readings, with the same words.
import type { HostInspection, HostRef, InspectInput } from '../activities/types';
import type { ServerState } from '../ports/lb';
import type { Plan } from '../plan/schema';

/** Hosts read at once in preflight: read-only, so far wider than the deploy's parallelism. */
export const INSPECT_CONCURRENCY = 64;

/** What preflight refuses about one host, each problem naming it once. */
export function hostProblems(expectRelease: string, r: HostInspection): string[] {
  // An error that could not reach the release says it all; health is moot then.
  if (r.error) return [r.error.startsWith(r.host) ? r.error : `${r.host}: ${r.error}`];
  const out: string[] = [];
  if (r.release !== expectRelease) out.push(`${r.host} runs release "${r.release}", the plan expects "${expectRelease}"`);
  else if (!r.healthy) out.push(`${r.host} is not healthy: ${r.healthReason ?? 'unknown reason'}`);
  return out;
}

export function lbProblems(view: ServerState[], name: string): string[] {
  const live = view.find((s) => s.pool === 'live' && s.server === name);
  const standby = view.find((s) => s.pool === 'standby' && s.server === name);
  const out: string[] = [];
  if (!live) out.push(`${name} is not a server of the live backend`);
  else if (live.admin !== 'ready' || live.status !== 'UP')
    out.push(`${name} is not UP in the live pool (admin ${live.admin}, status ${live.status})`);
  if (!standby) out.push(`${name} is not a server of the standby backend`);
  else if (standby.admin !== 'maint') out.push(`${name} is already in the standby pool (admin ${standby.admin})`);
  return out;
}

/** The hosts of one cluster as the activities take them. */
export function hostRefs(plan: Plan, cluster: string): HostRef[] {
  return (plan.clusters[cluster]?.hosts ?? []).map((h) => ({ name: h.name, cluster, ssh: h.ssh, healthUrl: h.healthUrl }));
}

/** What preflight (and the recovery survey) reads of every host: release over SSH, health over HTTP. */
export function fleetInspection(plan: Plan, expectRelease?: string): InspectInput {
  return {
    hosts: plan.order.flatMap((c) => hostRefs(plan, c)),
    currentReleaseCommand: plan.commands.currentRelease,
    ...(expectRelease === undefined ? {} : { expectRelease }),
    healthTimeoutSeconds: Math.min(10, plan.health.timeoutSeconds),
    concurrency: INSPECT_CONCURRENCY,
  };
}
