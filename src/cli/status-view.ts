// The status screen: header, pending gate, steps with durations, hosts, decisions.
import type { DeploymentStatus } from '../workflows/state';
import { describeBake, percent } from '../workflows/bake-rules';
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
  out.push(
    `${s.environment}: ${s.fromRelease} → ${s.release}   step: ${stepLabel(s)}${s.paused ? '   PAUSED' : ''}${s.abortRequested ? '   ABORT REQUESTED' : ''}`,
  );
  for (const p of v.progress ?? []) out.push(`  ${progressText(p, s, now)}`);
  if (s.outcome) out.push(`outcome: ${s.outcome}: ${s.reason ?? ''}`);
  else if (v.failure) out.push(`ended: ${v.failure}`);
  const failing = (s.notifications ?? []).filter((n) => n.failed > 0);
  if (failing.length > 0) {
    // Not fatal to the run, but someone may be waiting for a message that never came.
    out.push(`NOTIFICATIONS FAILING: ${failing.map((n) => `${n.name} (${n.failed} failed)`).join(', ')}; see Notifications below`);
  }
  if (s.pendingGate) {
    const g = s.pendingGate;
    const expires = new Date(new Date(g.since).getTime() + g.timeoutSeconds * 1000);
    out.push(
      `PENDING GATE ${g.gate} since ${when(g.since, now)} (${ago(g.since, now)}); ` +
        `${g.onTimeout === 'reject' ? 'rejected' : 'still waiting'} at ${when(expires, now)} without a decision` +
        (g.approvers ? `; approvers: ${g.approvers.join(', ')}` : ''),
    );
    out.push(
      `  approve: bluegreen approve ${s.environment} ${g.gate} --release ${s.release} --reason "..."   reject: bluegreen reject ${s.environment} ${g.gate} --release ${s.release} --reason "..."`,
    );
  } else if (s.waitingFor && !s.outcome) {
    out.push(`waiting for: ${s.waitingFor}${s.paused ? `  (bluegreen resume ${s.environment})` : ''}`);
  }
  out.push('', 'Steps');
  out.push(
    table(
      ['step', 'cluster', 'started', 'duration'],
      s.steps.map((st, i) => {
        const current = !s.outcome && i === s.steps.length - 1 && st.ms === undefined;
        const ms = st.ms ?? (st.startedAt ? now.getTime() - new Date(st.startedAt).getTime() : undefined);
        return [st.step, st.cluster ?? '', st.startedAt ? when(st.startedAt, now) : '', `${duration(ms)}${current ? ' …' : ''}`];
      }),
    ),
  );
  out.push('', 'Hosts');
  out.push(
    table(
      ['cluster', 'host', 'release', 'pool', 'phase', 'last error'],
      s.clusters.flatMap((c) => c.hosts.map((h) => [c.name, h.name, h.release ?? '?', h.pool, h.phase, clip(h.lastError, 60)])),
    ),
  );
  if (s.bakes?.length) out.push('', ...renderBakes(s, now));
  if (s.recovery) {
    out.push('', 'Found by the survey (before any change)');
    out.push(
      table(
        ['cluster', 'host', 'release', 'health', 'live', 'standby'],
        s.recovery.survey.map((h) => [
          h.cluster,
          h.host,
          h.release ?? clip(`? ${h.error ?? ''}`, 40),
          h.healthy ? 'healthy' : clip(`not healthy ${h.healthReason ?? ''}`, 40),
          h.live,
          h.standby,
        ]),
      ),
    );
    out.push('', 'Recovery plan');
    out.push(
      table(
        ['cluster', 'action', 'outcome', 'why'],
        s.recovery.clusters.map((c) => [c.cluster, c.action, c.outcome, clip(c.error ?? c.why, 70)]),
      ),
    );
  }
  if (s.notifications?.length) {
    out.push('', 'Notifications');
    out.push(
      table(
        ['webhook', 'delivered', 'failed', 'last error'],
        s.notifications.map((n) => [
          n.name,
          String(n.delivered),
          String(n.failed),
          n.lastError ? clip(`${n.lastErrorAt ? `${when(n.lastErrorAt, now)}: ` : ''}${n.lastError}`, 90) : '',
        ]),
      ),
    );
  }
  if (s.decisions.length > 0) {
    out.push('', 'Decisions');
    out.push(
      table(
        ['at', 'decision', 'gate', 'by', 'reason'],
        s.decisions.map((d) => [when(d.at, now), d.kind, d.gate ?? '', d.by, clip([d.reason, d.note].filter(Boolean).join(' — '), 60)]),
      ),
    );
  }
  return out.join('\n');
}

/** The bake of each cluster: its window and verdict, and the figures of each server since the window opened. */
function renderBakes(s: DeploymentStatus, now: Date): string[] {
  const out = ['Bake (each server in the live pool since its cluster went live)'];
  for (const b of s.bakes ?? []) {
    out.push(`${b.cluster}: ${describeBake(b, now.getTime())}`);
    if (b.note && b.outcome !== 'breached') out.push(`  ${b.note}`);
    out.push(
      table(
        ['server', 'responses', '5xx', '5xx %', 'errors', 'rtime', 'status', 'check'],
        b.servers.map((f) => [
          f.server,
          String(f.responses),
          String(f.r5xx),
          percent(f.ratio5xx),
          String(f.errors),
          `${f.rtimeMs} ms`,
          f.status,
          `${f.checkStatus}${f.resets ? ` (${f.resets} counter reset${f.resets === 1 ? '' : 's'})` : ''}`,
        ]),
      ),
    );
  }
  return out;
}

/** "deploy green: 3/10 hosts healthy on v2; in flight: green-4, green-5 (heartbeat 1 s ago)". */
export function progressText(p: LiveProgress, s: DeploymentStatus, now = new Date()): string {
  const cluster = p.cluster ?? s.cluster ?? '';
  const total = p.total ?? s.clusters.find((c) => c.name === cluster)?.hosts.length;
  const beat = p.lastHeartbeat ? `heartbeat ${ago(p.lastHeartbeat, now)}` : '';
  const attempt = p.attempt > 1 ? `attempt ${p.attempt}` : '';
  const tail = [attempt, beat].filter(Boolean).join(', ');
  if (p.activity === 'smokeTest' && p.notUp) {
    const waiting = Object.entries(p.notUp).map(([host, st]) => `${host} (${st})`);
    return `verify ${cluster}: waiting for UP in the standby pool: ${listOf(waiting)}${tail ? ` (${tail})` : ''}`;
  }
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
  const failing = (s.notifications ?? []).filter((n) => n.failed > 0).map((n) => n.name);
  const notify = failing.length ? `; notifications failing: ${failing.join(', ')}` : '';
  const bake = s.step === 'bake' ? s.bakes?.find((b) => b.cluster === s.cluster && b.outcome === 'running') : undefined;
  return `${stepLabel(s)}: ${onNew}/${hosts.length} hosts on ${s.release}${bake ? `; bake ${describeBake(bake, Date.now())}` : ''}${gate}${notify}`;
}
