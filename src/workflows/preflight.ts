// Step 0, preflight: read the whole fleet and refuse to start unless it is exactly as the plan
// says. The recovery survey reads the fleet the same way (readFleet).
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { HostInspection } from '../activities/types';
import type { ServerState } from '../ports/lb';
import { fleetInspection, hostProblems, hostRefs, lbProblems } from './preflight-rules';
import type { HostStatus } from './state';
import { errorMessage, type StepContext } from './steps';

function hostStatus(ctx: StepContext, name: string): HostStatus {
  for (const c of ctx.status.clusters) for (const h of c.hosts) if (h.name === name) return h;
  throw new Error(`unknown host ${name}`);
}

/**
 * The fleet as preflight and the recovery survey read it, both at once: the LB's pools, and every
 * host's release (SSH) and health (HTTP; a healthy host must report `expectRelease` when given).
 * Two promises, so each caller decides whether one failing fails both.
 */
export function readFleet(ctx: StepContext, label: string, expectRelease?: string): [Promise<ServerState[]>, Promise<HostInspection[]>] {
  const { plan, call } = ctx;
  const input = fleetInspection(plan, expectRelease);
  return [
    call('readLoadBalancer', `${label}: read the load balancer pools`, plan.loadBalancer),
    call('inspectHosts', `${label}: read the release and health of ${input.hosts.length} hosts`, input),
  ];
}

/**
 * Runs started before this patch read the pools and the hosts in two activities; newer ones in one
 * (readFleet), sparing a workflow task that woke for the quick LB read while the hosts were read.
 */
const ONE_FLEET_READ = 'one-fleet-read';

/** Preflight's reads: the pools and every host, in one activity since ONE_FLEET_READ. */
async function readWholeFleet(ctx: StepContext, label: string, expectRelease: string): Promise<[ServerState[], HostInspection[]]> {
  if (!patched(ONE_FLEET_READ)) return Promise.all(readFleet(ctx, label, expectRelease));
  const input = fleetInspection(ctx.plan, expectRelease);
  const view = await ctx.call(
    'readFleet',
    `${label}: read the load balancer pools, and the release and health of ${input.hosts.length} hosts`,
    { ...input, lb: ctx.plan.loadBalancer },
  );
  return [view.servers, view.hosts];
}

/** Step 0: refuse to start unless the fleet is exactly as the plan says. Changes nothing. */
export async function preflight(ctx: StepContext): Promise<void> {
  const { plan } = ctx;
  const all = plan.order.flatMap((c) => hostRefs(plan, c));
  const [[view, inspections], bakeProblem] = await Promise.all([readWholeFleet(ctx, 'Preflight', plan.currentRelease), canBake(ctx, all)]);
  const problems: string[] = bakeProblem ? [bakeProblem] : [];
  for (const h of all) problems.push(...lbProblems(view, h.name));
  for (const r of inspections) {
    const hs = hostStatus(ctx, r.host);
    if (r.release !== undefined) hs.release = r.release;
    if (r.error) hs.lastError = r.error;
    else hs.phase = 'checked';
    problems.push(...hostProblems(plan.currentRelease, r));
  }
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Preflight refused to start; nothing was changed:\n  - ${problems.join('\n  - ')}`,
      'PreflightFailed',
      { problems: problems.slice(0, MAX_LISTED_PROBLEMS) },
    );
  }
}

/** With a bake: prove now that the LB gives every server's counters, not after a cluster went live. */
async function canBake(ctx: StepContext, all: ReturnType<typeof hostRefs>): Promise<string | undefined> {
  if (!ctx.plan.bake) return undefined;
  try {
    await ctx.call('readCounters', 'Preflight: read the per-server counters the bake will watch', {
      lb: ctx.plan.loadBalancer,
      pool: 'live',
      servers: all.map((h) => h.name),
    });
    return undefined;
  } catch (err) {
    return `the bake cannot read per-server counters from the load balancer: ${errorMessage(err)}`;
  }
}

/** Problems listed in a failure's details (the message names them all, bounded by the fleet's size). */
const MAX_LISTED_PROBLEMS = 200;
