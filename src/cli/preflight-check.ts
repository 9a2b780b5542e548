// plan check: the preflight of DESIGN.md step 0, run from the operator's machine with the real
// activities. It only reads (the LB's pools, each host's release and health) and says what a run
// would change. Nothing here writes to a host or the load balancer.
import type { ActivityDeps } from '../activities/deps';
import { inspectFleet } from '../activities/fleet';
import { readPools } from '../activities/lb';
import type { HostInspection, HostRef } from '../activities/types';
import type { ServerState } from '../ports/lb';
import type { Plan } from '../plan/schema';
import { fleetInspection, hostProblems, lbProblems } from '../workflows/preflight-rules';
import { messageOf } from './errors';

export interface HostCheck {
  cluster: string;
  host: string;
  release?: string;
  live?: string;
  standby?: string;
  healthy?: boolean;
  problems: string[];
}

export interface CheckReport {
  hosts: HostCheck[];
  problems: string[];
  changes: string[];
}

/** Reads what preflight reads, with the worker's own code (no Temporal), and applies the same rules. */
export async function checkPlan(plan: Plan, deps: ActivityDeps): Promise<CheckReport> {
  const problems: string[] = [];
  const input = fleetInspection(plan, plan.currentRelease);
  const [view, inspections] = await Promise.all([
    readPools(deps.lb(plan.loadBalancer)).catch((err: unknown) => {
      problems.push(`load balancer: ${messageOf(err)}`);
      return undefined;
    }),
    inspectFleet(deps, input),
  ]);
  if (plan.bake) {
    // As the workflow's preflight: the bake's counters must be readable before anything moves.
    const lb = deps.lb(plan.loadBalancer);
    if (!lb.readCounters) problems.push(`load balancer: ${lb.description} does not count responses per server: a bake needs HAProxy`);
    else
      await lb
        .readCounters('live')
        .catch((err: unknown) => problems.push(`load balancer: the bake cannot read per-server counters: ${messageOf(err)}`));
  }
  const byHost = new Map(inspections.map((r) => [r.host, r]));
  const hosts = input.hosts.map((h) => checkHost(plan, h, view, byHost.get(h.name)));
  for (const h of hosts) problems.push(...h.problems.map((p) => `${h.host}: ${p}`));
  return { hosts, problems, changes: wouldChange(plan, hosts) };
}

function checkHost(plan: Plan, h: HostRef, view: ServerState[] | undefined, r: HostInspection | undefined): HostCheck {
  const out: HostCheck = { cluster: h.cluster, host: h.name, problems: [] };
  // The rules speak of "green-1 ...": the table's problems column already names the host.
  const own = (p: string) => p.replace(new RegExp(`^${escape(h.name)}:? `), '');
  if (view) {
    const live = view.find((s) => s.pool === 'live' && s.server === h.name);
    const standby = view.find((s) => s.pool === 'standby' && s.server === h.name);
    out.live = live ? `${live.admin}/${live.status}` : 'absent';
    out.standby = standby ? `${standby.admin}/${standby.status}` : 'absent';
    out.problems.push(...lbProblems(view, h.name).map(own));
  }
  if (r) {
    out.release = r.release;
    out.healthy = r.error ? undefined : r.healthy;
    out.problems.push(...hostProblems(plan.currentRelease, r).map(own));
  }
  return out;
}

function wouldChange(plan: Plan, hosts: HostCheck[]): string[] {
  const out: string[] = [];
  for (const cluster of plan.order) {
    const hs = hosts.filter((h) => h.cluster === cluster);
    const names = hs.map((h) => h.host).join(', ');
    const install = hs.filter((h) => h.release !== plan.release).map((h) => `${h.host} ${h.release ?? '?'} → ${plan.release}`);
    out.push(
      `${cluster}: drain ${names} out of the live pool into standby; install ${install.length ? install.join(', ') : 'nothing (already on the release)'}; ` +
        `smoke-test through ${plan.loadBalancer.standbyUrl}${plan.gates.promote.enabled ? `; wait for gate promote-${cluster}` : ''}; back into the live pool` +
        (plan.bake ? `; bake ${plan.bake.seconds} s (roll back on a breach)` : ''),
    );
  }
  if (plan.migration)
    out.push(
      `then${plan.gates.migrate.enabled ? ', after gate migrate,' : ''} run the migration for ${plan.release} on ${plan.migration.host} (not rolled back automatically)`,
    );
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
