// plan check: the preflight of DESIGN.md step 0, run from the operator's machine with the real
// activities. It only reads (the LB's pools, each host's release and health) and says what a run
// would change. Nothing here writes to a host or the load balancer.
import type { Activities } from '../activities';
import type { HostRef, LbServerView } from '../activities/types';
import type { Plan } from '../plan/schema';
import { runAsActivity } from './activity-context';
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

type ReadOnly = Pick<Activities, 'readLoadBalancer' | 'readHostRelease' | 'probeHealth'>;

export async function checkPlan(plan: Plan, activities: ReadOnly): Promise<CheckReport> {
  const problems: string[] = [];
  let view: LbServerView[] | undefined;
  try {
    view = await runAsActivity('readLoadBalancer', () => activities.readLoadBalancer(plan.loadBalancer));
  } catch (err) {
    problems.push(`load balancer: ${messageOf(err)}`);
  }
  const refs: HostRef[] = plan.order.flatMap((cluster) =>
    (plan.clusters[cluster]?.hosts ?? []).map((h) => ({ name: h.name, cluster, ssh: h.ssh, healthUrl: h.healthUrl })),
  );
  const hosts = await Promise.all(refs.map((h) => checkHost(plan, activities, h, view)));
  for (const h of hosts) problems.push(...h.problems.map((p) => `${h.host}: ${p}`));
  return { hosts, problems, changes: wouldChange(plan, hosts) };
}

async function checkHost(plan: Plan, a: ReadOnly, h: HostRef, view: LbServerView[] | undefined): Promise<HostCheck> {
  const r: HostCheck = { cluster: h.cluster, host: h.name, problems: [] };
  if (view) {
    const live = view.find((s) => s.pool === 'live' && s.server === h.name);
    const standby = view.find((s) => s.pool === 'standby' && s.server === h.name);
    r.live = live ? `${live.admin}/${live.status}` : 'absent';
    r.standby = standby ? `${standby.admin}/${standby.status}` : 'absent';
    if (!live) r.problems.push('not a server of the live backend');
    else if (live.admin !== 'ready' || live.status !== 'UP') r.problems.push(`not UP in the live pool (admin ${live.admin}, status ${live.status})`);
    if (!standby) r.problems.push('not a server of the standby backend');
    else if (standby.admin !== 'maint') r.problems.push(`already in the standby pool (admin ${standby.admin})`);
  }
  try {
    r.release = await runAsActivity('readHostRelease', () => a.readHostRelease({ host: h, command: plan.commands.currentRelease }));
    if (r.release !== plan.currentRelease) r.problems.push(`runs release "${r.release}", the plan expects "${plan.currentRelease}"`);
  } catch (err) {
    r.problems.push(messageOf(err).replace(new RegExp(`^${escape(h.name)}: `), ''));
    return r;
  }
  try {
    // Health of what runs now: a release mismatch is already reported above, once.
    const running = r.release;
    const health = await runAsActivity('probeHealth', () =>
      a.probeHealth({ host: h, release: running, timeoutSeconds: 10, intervalMs: plan.health.intervalMs }),
    );
    r.healthy = health.ok;
    if (!health.ok) r.problems.push(`not healthy: ${health.reason ?? 'unknown reason'}`);
  } catch (err) {
    r.healthy = false;
    r.problems.push(`health check: ${messageOf(err)}`);
  }
  return r;
}

function wouldChange(plan: Plan, hosts: HostCheck[]): string[] {
  const out: string[] = [];
  for (const cluster of plan.order) {
    const hs = hosts.filter((h) => h.cluster === cluster);
    const names = hs.map((h) => h.host).join(', ');
    const install = hs.filter((h) => h.release !== plan.release).map((h) => `${h.host} ${h.release ?? '?'} → ${plan.release}`);
    out.push(
      `${cluster}: drain ${names} out of the live pool into standby; install ${install.length ? install.join(', ') : 'nothing (already on the release)'}; ` +
        `smoke-test through ${plan.loadBalancer.standbyUrl}${plan.gates.promote.enabled ? `; wait for gate promote-${cluster}` : ''}; back into the live pool`,
    );
  }
  if (plan.migration) out.push(`then${plan.gates.migrate.enabled ? ', after gate migrate,' : ''} run the migration for ${plan.release} on ${plan.migration.host} (not rolled back automatically)`);
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
