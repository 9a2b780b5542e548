// Recovery's rules, pure: what the survey's readings say about each host, what makes recovery
// refuse, and in which order the clusters are converged. Kept apart from the workflow so that the
// order (the part that keeps the live pool from ever being emptied) is readable and testable alone.
import type { HostInspection } from '../activities/types';
import type { ServerState } from '../ports/lb';
import { poolLabel } from '../plan/names';
import type { Plan } from '../plan/schema';
import type { RecoveryRecord, SurveyHost } from './state';

export interface SurveyReading {
  hosts: SurveyHost[];
  /** Why recovery cannot proceed safely; each names its host. Empty: go on. */
  problems: string[];
  clusters: RecoveryRecord['clusters'];
  /** Hosts that are in the standby pool (admin not maint): a smoke test through it must reach one cluster only. */
  inStandby: string[];
}

/**
 * Where a cluster stands with its users. Converging takes clusters in this order, so that only a
 * cluster that serves users is ever drained, and only once every other cluster is live and UP:
 * 0 out of the live pool (fixing it touches no user), 1 in the live pool but no host UP there (serves
 * nobody; still drained, so the LB's guard applies), 2 serving users.
 */
export type Exposure = 0 | 1 | 2;

function describeServer(s: ServerState | undefined): string {
  if (!s) return 'absent';
  return s.admin === 'ready' ? s.status : `${s.status} (admin ${s.admin})`;
}

export function readSurvey(plan: Plan, to: string, view: ServerState[], inspections: HostInspection[]): SurveyReading {
  const server = (pool: 'live' | 'standby', name: string) => view.find((s) => s.pool === pool && s.server === name);
  const byHost = new Map(inspections.map((r) => [r.host, r]));
  const hosts: SurveyHost[] = [];
  const problems: string[] = [];
  const inStandby: string[] = [];
  const clusters: RecoveryRecord['clusters'] = [];
  const ranked: { cluster: string; exposure: Exposure; index: number }[] = [];

  for (const [index, cluster] of plan.order.entries()) {
    const names = (plan.clusters[cluster]?.hosts ?? []).map((h) => h.name);
    let converged = true;
    let inLive = false;
    let upInLive = false;
    const off: string[] = [];
    for (const name of names) {
      const r = byHost.get(name) ?? { host: name, error: `${name}: not inspected` };
      const live = server('live', name);
      const standby = server('standby', name);
      hosts.push({
        host: name,
        cluster,
        ...(r.release !== undefined ? { release: r.release } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(r.healthy !== undefined ? { healthy: r.healthy } : {}),
        ...(r.healthReason ? { healthReason: r.healthReason } : {}),
        ...(r.reportedRelease ? { reportedRelease: r.reportedRelease } : {}),
        live: describeServer(live),
        standby: describeServer(standby),
      });
      // Unreachable: nothing about it can be changed or confirmed, so nothing may be put live around it.
      if (r.error)
        problems.push(r.error.startsWith(name) ? `${r.error} (recovery needs every host's release over SSH)` : `${name}: ${r.error}`);
      if (!live) problems.push(`${name} is not a server of the ${poolLabel(plan.loadBalancer, 'live')}`);
      if (!standby) problems.push(`${name} is not a server of the ${poolLabel(plan.loadBalancer, 'standby')}`);
      if (live && live.admin !== 'maint') inLive = true;
      if (live && live.admin === 'ready' && live.status === 'UP') upInLive = true;
      if (standby && standby.admin !== 'maint') inStandby.push(name);
      const ok = r.release === to && r.healthy === true && live?.admin === 'ready' && live.status === 'UP' && standby?.admin === 'maint';
      if (!ok) {
        converged = false;
        off.push(`${name} ${whyOff(to, r, live, standby)}`);
      }
    }
    if (converged) {
      clusters.push({
        cluster,
        action: 'skip',
        why: `every host runs ${to}, healthy, UP in the live pool, out of the standby pool`,
        outcome: 'pending',
      });
    } else {
      const exposure: Exposure = !inLive ? 0 : upInLive ? 2 : 1;
      ranked.push({ cluster, exposure, index });
      const where = exposure === 0 ? 'out of the live pool' : exposure === 1 ? 'in the live pool, no host UP there' : 'serving users';
      clusters.push({ cluster, action: 'converge', why: `${where}: ${off.join('; ')}`, outcome: 'pending' });
    }
  }
  // Stable: within the same exposure, the plan's order.
  ranked.sort((a, b) => a.exposure - b.exposure || a.index - b.index);
  const order = [...ranked.map((r) => r.cluster), ...clusters.filter((c) => c.action === 'skip').map((c) => c.cluster)];
  clusters.sort((a, b) => order.indexOf(a.cluster) - order.indexOf(b.cluster));
  return { hosts, problems, clusters, inStandby };
}

function whyOff(to: string, r: HostInspection, live: ServerState | undefined, standby: ServerState | undefined): string {
  const out: string[] = [];
  if (r.release !== to) out.push(`runs ${r.release ?? 'an unknown release'}`);
  if (r.healthy !== true) out.push(`not healthy${r.healthReason ? ` (${r.healthReason})` : ''}`);
  if (!(live?.admin === 'ready' && live.status === 'UP')) out.push(`live ${describeServer(live)}`);
  if (standby && standby.admin !== 'maint') out.push(`in the standby pool (${describeServer(standby)})`);
  return out.join(', ');
}

/** "v1" or "v1/v2" (and "?" for a host whose release is unknown): what the fleet ran before recovery. */
export function releasesFound(hosts: SurveyHost[]): string {
  const set = new Set(hosts.map((h) => h.release ?? '?'));
  return [...set].sort().join('/');
}

/** One host as the survey saw it, for messages: "green-2 v1, healthy, live MAINT (admin maint), standby UP". */
export function describeSurveyHost(h: SurveyHost): string {
  const release = h.release ?? `release unknown (${h.error ?? 'not read'})`;
  const health = h.healthy ? 'healthy' : `not healthy${h.healthReason ? ` (${h.healthReason})` : ''}`;
  return `${h.host} ${release}, ${health}, live ${h.live}, standby ${h.standby}`;
}
