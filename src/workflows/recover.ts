// Recovery: brings a fleet that a failed rollback (or anything else) left mixed back to one release,
// under the deployment's own rules. It surveys first and changes nothing unless every host answers
// and the LB can be read; then it converges cluster by cluster with the deployment's steps, clusters
// that serve nobody first, so that only a cluster that serves users is ever drained, and only once
// every other cluster is live and UP. It never rolls back (there is no "before" to go back to): a
// failure stops it where it is, nothing unverified goes live, and it says host by host what is left.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { RELEASE_PATTERN } from '../plan/names';
import type { Plan } from '../plan/schema';
import { activityCaller } from './activity-calls';
import { Control } from './control';
import { Notifier } from './notifier';
import { parseRecoveryPlan } from '../plan/validate';
import { finish, noteCancellation, planOrFail, recordStop } from './outcome';
import { describeSurveyHost, readSurvey, releasesFound, type SurveyReading } from './recovery-rules';
import { describeFleet, poolOf, settleState } from './rollback';
import { ENVIRONMENT, FROM_RELEASE, RELEASE } from './search-attributes';
import { readFleet } from './preflight';
import { deploy, errorMessage, holdOutOfStandby, hostRefs, live, standby, step, verify, type StepContext } from './steps';
import { clusterOf, hostsOf, initialStatus, type DeploymentResult, type StepName } from './state';

/** Recoveries from before this patch put a cluster that was not live `ready` into standby before reinstalling it. */
const RECOVERY_HOLDS_STANDBY = 'recovery-holds-standby-until-reinstalled';

/**
 * `plan`: the environment's plan (its release and currentRelease are ignored); `to`: the release
 * every host ends on. Two arguments, so that the Temporal CLI can pass the plan file as it is.
 */
export async function recoverFleet(planInput: unknown, to: unknown): Promise<DeploymentResult> {
  const plan = validateInput(planInput, to);
  const target = plan.release;
  const status = initialStatus(plan);
  status.kind = 'recovery';
  status.step = 'survey';
  status.fromRelease = '?';
  const control = new Control(plan, status);
  const call = activityCaller(plan);
  const ctx: StepContext = { plan, status, call, control, notifier: new Notifier(plan, status, call, 'recovery') };
  upsertSearchAttributes([
    { key: ENVIRONMENT, value: plan.environment },
    { key: RELEASE, value: target },
  ]);
  ctx.notifier?.runStarted();
  noteCancellation(ctx);

  let reading: SurveyReading;
  try {
    reading = await recoveryStep(ctx, 'survey', undefined, () => survey(ctx));
  } catch (err) {
    const cancelled = isCancellation(err) || CancellationScope.current().consideredCancelled;
    const why = cancelled ? 'the run was cancelled during the survey; nothing was changed' : errorMessage(err);
    status.failure = { kind: cancelled ? 'cancel' : 'failure', step: 'survey', message: why, at: new Date().toISOString() };
    if (!cancelled) ctx.notifier?.stepFailed(status.failure);
    if (cancelled) status.cancelled = true;
    return finish(ctx, 'failed', why, cancelled ? new CancelledFailure(why) : undefined);
  }

  const records = status.recovery?.clusters ?? [];
  const inStandby = new Set(reading.inStandby);
  const done: string[] = [];
  for (const [i, rec] of records.entries()) {
    if (rec.action === 'skip') {
      rec.outcome = 'skipped';
      clusterOf(status, rec.cluster).phase = 'live';
      for (const h of hostsOf(status, rec.cluster)) h.phase = 'live';
      continue;
    }
    let touched = false;
    try {
      await control.safePoint();
      touched = true;
      rec.outcome = 'running';
      await converge(ctx, rec.cluster, inStandby);
      rec.outcome = 'done';
      done.push(rec.cluster);
    } catch (err) {
      if (touched) {
        rec.outcome = 'failed';
        rec.error = errorMessage(err);
      }
      const pending = records.slice(touched ? i + 1 : i).filter((r) => r.action === 'converge');
      for (const r of pending) r.outcome = 'not-attempted';
      return await stopped(
        ctx,
        touched ? rec.cluster : undefined,
        err,
        done,
        pending.map((r) => r.cluster),
      );
    }
  }
  const skipped = records.filter((r) => r.action === 'skip').map((r) => r.cluster);
  return finish(
    ctx,
    'succeeded',
    `every cluster runs ${target} and is live. ` +
      (done.length ? `Converged ${done.join(', then ')}` : 'Nothing to do') +
      (skipped.length
        ? `; ${skipped.join(', ')} already ${skipped.length === 1 ? 'was' : 'were'} on ${target}, live and out of standby`
        : '') +
      `. Found before: ${reading.hosts.map(describeSurveyHost).join('; ')}`,
  );
}

function validateInput(planInput: unknown, to: unknown): Plan {
  if (typeof to !== 'string' || !RELEASE_PATTERN.test(to)) {
    throw ApplicationFailure.nonRetryable(
      `recoverFleet needs the release to converge to as its second argument (1-64 letters, digits, ".", "_", "-"), found ${JSON.stringify(to)?.slice(0, 80) ?? 'nothing'}`,
      'PlanError',
    );
  }
  // The target becomes the plan's release, so every step (deploy, smoke test) runs against it.
  return { ...planOrFail(() => parseRecoveryPlan(planInput)), release: to, currentRelease: to };
}

/** A step with recovery's own Temporal Web details ("v1 → v1" would say nothing). */
function recoveryStep<T>(ctx: StepContext, name: StepName, cluster: string | undefined, body: () => Promise<T>): Promise<T> {
  return step(ctx, name, cluster, () => {
    setCurrentDetails(`**Recovery** to ${ctx.plan.release}: step **${name}**${cluster ? ` of cluster **${cluster}**` : ''}`);
    return body();
  });
}

/** Read-only: every host's release (SSH) and health (HTTP, any release), and both pools. */
async function survey(ctx: StepContext): Promise<SurveyReading> {
  const { plan, status } = ctx;
  // Both readings settle, so that a refusal names everything wrong at once.
  const [lb, hosts] = await Promise.allSettled(readFleet(ctx, 'Survey'));
  for (const r of [lb, hosts]) if (r.status === 'rejected' && isCancellation(r.reason)) throw r.reason;
  const view = lb.status === 'fulfilled' ? lb.value : [];
  const inspections = hosts.status === 'fulfilled' ? hosts.value : [];
  const reading = readSurvey(plan, plan.release, view, inspections);
  const problems = [
    ...(lb.status === 'rejected' ? [`the load balancer could not be read: ${errorMessage(lb.reason)}`] : []),
    ...(hosts.status === 'rejected' ? [`the hosts could not be inspected: ${errorMessage(hosts.reason)}`] : []),
    // Without the LB's view every host would read "not in the live backend": only the hosts' own problems then.
    ...(hosts.status === 'rejected' ? [] : lb.status === 'fulfilled' ? reading.problems : hostErrors(inspections)),
  ];
  for (const h of reading.hosts) {
    const hs = hostsOf(status, h.cluster).find((x) => x.name === h.host);
    if (!hs) continue;
    hs.release = h.release ?? null;
    if (lb.status === 'fulfilled') hs.pool = poolOf(view, h.host);
    if (h.reportedRelease) hs.reportedRelease = h.reportedRelease;
    if (h.error) {
      hs.phase = 'failed';
      hs.lastError = h.error;
    } else hs.phase = 'checked';
  }
  status.recovery = { to: plan.release, survey: reading.hosts, clusters: reading.clusters };
  status.fromRelease = releasesFound(reading.hosts);
  upsertSearchAttributes([{ key: FROM_RELEASE, value: status.fromRelease }]);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Recovery refused to start; nothing was changed:\n  - ${problems.join('\n  - ')}` +
        (lb.status === 'fulfilled' && hosts.status === 'fulfilled' ? `\nFound: ${reading.hosts.map(describeSurveyHost).join('; ')}` : ''),
      'RecoveryRefused',
      { problems: problems.slice(0, 200) },
    );
  }
  return reading;
}

function hostErrors(inspections: { host: string; error?: string }[]): string[] {
  return inspections.flatMap((r) => (r.error ? [r.error.startsWith(r.host) ? r.error : `${r.host}: ${r.error}`] : []));
}

/** One cluster to the target: the deployment's steps 1-4, without its promote gate. */
async function converge(ctx: StepContext, cluster: string, inStandby: Set<string>): Promise<void> {
  const { plan, call, status, control } = ctx;
  const names = hostRefs(plan, cluster).map((h) => h.name);
  // The smoke test goes through the standby pool and fails on an answer from outside the cluster.
  const strangers = [...inStandby].filter((h) => !names.includes(h));
  if (strangers.length > 0) {
    await recoveryStep(ctx, 'standby', cluster, async () => {
      await call(
        'leavePool',
        `Recovery: take ${strangers.join(', ')} out of the standby pool, so that ${cluster}'s smoke test reaches ${cluster} only`,
        {
          lb: plan.loadBalancer,
          pool: 'standby',
          servers: strangers,
        },
      );
    });
    for (const name of strangers) {
      inStandby.delete(name);
      for (const c of status.clusters) for (const h of c.hosts) if (h.name === name && h.pool === 'standby') h.pool = 'none';
    }
  }
  if (hostsOf(status, cluster).some((h) => h.pool === 'live')) {
    // Serves (or may serve) users: drained as in step 1; the LB refuses if that would empty the live pool.
    await recoveryStep(ctx, 'standby', cluster, () => standby(ctx, cluster));
  } else if (patched(RECOVERY_HOLDS_STANDBY)) {
    await recoveryStep(ctx, 'standby', cluster, async () => {
      clusterOf(status, cluster).phase = 'standby';
      await holdOutOfStandby(ctx, cluster, `Recovery: hold ${cluster} (out of the live pool) out of the standby pool until reinstalled`);
      for (const h of hostsOf(status, cluster)) h.phase = 'standby';
    });
  } else {
    await recoveryStep(ctx, 'standby', cluster, async () => {
      clusterOf(status, cluster).phase = 'standby';
      await call('enterPool', `Recovery: put ${cluster} (out of the live pool) into the standby pool`, {
        lb: plan.loadBalancer,
        pool: 'standby',
        servers: names,
        deadlineSeconds: 0,
      });
      for (const h of hostsOf(status, cluster)) {
        h.pool = 'standby';
        h.phase = 'standby';
      }
    });
  }
  for (const name of names) inStandby.add(name);
  await control.safePoint();
  await recoveryStep(ctx, 'deploy', cluster, () => deploy(ctx, cluster, plan.release));
  await control.safePoint();
  await recoveryStep(ctx, 'verify', cluster, () => verify(ctx, cluster, plan.release, { promoteGate: false }));
  await control.safePoint();
  await recoveryStep(ctx, 'live', cluster, () => live(ctx, cluster));
  for (const name of names) inStandby.delete(name);
}

/** Ends a recovery that stopped (failure, abort, cancel) in `cluster`, or between clusters when undefined. */
async function stopped(
  ctx: StepContext,
  cluster: string | undefined,
  err: unknown,
  done: string[],
  pending: string[],
): Promise<DeploymentResult> {
  const { status, plan } = ctx;
  const { kind, why: what, rethrow } = recordStop(ctx, err);
  if (cluster) clusterOf(status, cluster).phase = 'failed';
  // The report must be the real state, even while the run is being cancelled.
  const lbRead = await CancellationScope.nonCancellable(() => settleState(ctx, cluster ?? plan.order[0] ?? '', 'Recovery stopped'));
  const liveHosts = status.clusters.flatMap((c) => c.hosts).filter((h) => h.pool === 'live');
  const kept = cluster && !hostsOf(status, cluster).some((h) => h.pool === 'live') ? `; ${cluster} is kept out of the live pool` : '';
  const reason =
    `Recovery to ${plan.release} stopped: ${what}. ` +
    (done.length ? `Converged before that: ${done.join(', ')}. ` : '') +
    (pending.length ? `Not attempted: ${pending.join(', ')}. ` : '') +
    `State left${lbRead ? '' : ' (pools as last known: the load balancer could not be read)'}: ${describeFleet(ctx)}. ` +
    (liveHosts.length ? `Users are served by ${liveHosts.map((h) => h.name).join(', ')}` : 'No host is in the live pool') +
    `${kept}. ` +
    `${kind === 'failure' ? 'Fix what the error names, then run' : 'To go on, run'} the recovery again: bluegreen recover ${plan.environment} --to ${plan.release} --plan PLAN.`;
  return finish(ctx, 'failed', reason, rethrow);
}
