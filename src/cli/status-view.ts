// The status screen: header, pending gate, steps with durations, hosts, decisions.
import type { DeploymentStatus } from '../workflows/state';
import { ago, clip, duration, table, when } from './format';
import type { LiveProgress } from './live-progress';
import type { RunView } from './run-view';

export function renderStatus(v: RunView, now = new Date()): string {
  const s = v.status;
  const out: string[] = [];
  const closed = v.closeTime ? `, ended ${when(v.closeTime, now)}` : '';
  out.push(`${v.workflowId}  run ${v.runId}  ${v.temporalStatus}  (started ${when(v.startTime, now)}${closed})`);
  out.push(`web: ${v.link}`);
  if (!s) {
    out.push(`No status available${v.failure ? `: ${v.failure}` : ''}${v.hint ? `\n${v.hint}` : ''}`);
    return out.join('\n');
  }
  if (s.kind === 'recovery') out.push(`RECOVERY of ${s.environment} to ${s.release}`);
  out.push(`${s.environment}: ${s.fromRelease} → ${s.release}   step: ${stepLabel(s)}${s.paused ? '   PAUSED' : ''}${s.abortRequested ? '   ABORT REQUESTED' : ''}`);
  for (const p of v.progress ?? []) out.push(`  ${progressText(p, s, now)}`);
  if (s.outcome) out.push(`outcome: ${s.outcome}: ${s.reason ?? ''}`);
  else if (v.failure) out.push(`ended: ${v.failure}`);
  if (s.pendingGate) {
    const g = s.pendingGate;
    const expires = new Date(new Date(g.since).getTime() + g.timeoutSeconds * 1000);
    out.push(
      `PENDING GATE ${g.gate} since ${when(g.since, now)} (${ago(g.since, now)}); ` +
        `${g.onTimeout === 'reject' ? 'rejected' : 'still waiting'} at ${when(expires, now)} without a decision` +
        (g.approvers ? `; approvers: ${g.approvers.join(', ')}` : ''),
    );
    out.push(`  approve: bluegreen approve ${s.environment} ${g.gate} --release ${s.release} --reason "..."   reject: bluegreen reject ${s.environment} ${g.gate} --release ${s.release} --reason "..."`);
  } else if (s.waitingFor && !s.outcome) {
    out.push(`waiting for: ${s.waitingFor}${s.paused ? `  (bluegreen resume ${s.environment})` : ''}`);
  }
  out.push('', 'Steps');
  out.push(table(['step', 'cluster', 'started', 'duration'], s.steps.map((st, i) => {
    const current = !s.outcome && i === s.steps.length - 1 && st.ms === undefined;
    const ms = st.ms ?? (st.startedAt ? now.getTime() - new Date(st.startedAt).getTime() : undefined);
    return [st.step, st.cluster ?? '', st.startedAt ? when(st.startedAt, now) : '', `${duration(ms)}${current ? ' …' : ''}`];
  })));
  out.push('', 'Hosts');
  out.push(table(['cluster', 'host', 'release', 'pool', 'phase', 'last error'], s.clusters.flatMap((c) =>
    c.hosts.map((h) => [c.name, h.name, h.release ?? '?', h.pool, h.phase, clip(h.lastError, 60)]),
  )));
  if (s.recovery) {
    out.push('', 'Found by the survey (before any change)');
    out.push(table(['cluster', 'host', 'release', 'health', 'live', 'standby'], s.recovery.survey.map((h) => [
      h.cluster, h.host, h.release ?? clip(`? ${h.error ?? ''}`, 40), h.healthy ? 'healthy' : clip(`not healthy ${h.healthReason ?? ''}`, 40), h.live, h.standby,
    ])));
    out.push('', 'Recovery plan');
    out.push(table(['cluster', 'action', 'outcome', 'why'], s.recovery.clusters.map((c) => [c.cluster, c.action, c.outcome, clip(c.error ?? c.why, 70)])));
  }
  if (s.decisions.length > 0) {
    out.push('', 'Decisions');
    out.push(table(['at', 'decision', 'gate', 'by', 'reason'], s.decisions.map((d) => [
      when(d.at, now), d.kind, d.gate ?? '', d.by, clip([d.reason, d.note].filter(Boolean).join(' — '), 60),
    ])));
  }
  return out.join('\n');
}

/** "deploy green: 3/10 hosts healthy on v2; in flight: green-4, green-5 (heartbeat 1 s ago)". */
export function progressText(p: LiveProgress, s: DeploymentStatus, now = new Date()): string {
  const cluster = p.cluster ?? s.cluster ?? '';
  const total = p.total ?? s.clusters.find((c) => c.name === cluster)?.hosts.length;
  const beat = p.lastHeartbeat ? `heartbeat ${ago(p.lastHeartbeat, now)}` : '';
  const attempt = p.attempt > 1 ? `attempt ${p.attempt}` : '';
  const tail = [attempt, beat].filter(Boolean).join(', ');
  if (p.activity === 'smokeTest') {
    const direct = p.direct ? `, ${p.direct} hosts tested directly` : '';
    return `verify ${cluster}: ${p.done} smoke requests passed through the standby pool${direct}${tail ? ` (${tail})` : ''}`;
  }
  const inFlight = p.inFlight.length > 0 ? `; in flight: ${listOf(p.inFlight)}` : '';
  const failed = p.failed.length > 0 ? `; failed: ${listOf(p.failed)}` : '';
  const release = s.step === 'rollback' ? s.fromRelease : s.release;
  return `deploy ${cluster}: ${p.done}/${total ?? '?'} hosts healthy on ${release}${inFlight}${failed}${tail ? ` (${tail})` : ''}`;
}

const listOf = (names: string[]) => (names.length > 8 ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more` : names.join(', '));

function stepLabel(s: DeploymentStatus): string {
  return s.cluster ? `${s.step} (${s.cluster})` : s.step;
}

/** One line for progress output (deploy --wait on a non-terminal). */
export function statusLine(s: DeploymentStatus): string {
  const hosts = s.clusters.flatMap((c) => c.hosts);
  const onNew = hosts.filter((h) => h.release === s.release).length;
  const gate = s.pendingGate ? `; waiting for gate ${s.pendingGate.gate}` : s.waitingFor ? `; waiting for ${s.waitingFor}` : '';
  return `${stepLabel(s)}: ${onNew}/${hosts.length} hosts on ${s.release}${gate}`;
}
