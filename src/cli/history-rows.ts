// The rows of `bluegreen history`: past runs from Temporal's visibility, by the BgEnvironment search attribute.
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { FROM_RELEASE, OUTCOME, RELEASE, STEP } from '../workflows/search-attributes';
import type { Session } from './context';

export interface HistoryRow {
  workflowId: string;
  runId: string;
  startTime: string;
  closeTime?: string;
  startedBy?: string;
  fromRelease?: string;
  release?: string;
  outcome: string;
  durationMs: number;
}

export async function historyRows(session: Session, env: string, limit: number): Promise<HistoryRow[]> {
  const infos: WorkflowExecutionInfo[] = [];
  for await (const wf of session.client.workflow.list({ query: `BgEnvironment = '${env}'`, pageSize: Math.min(limit, 100) })) {
    infos.push(wf);
    if (infos.length >= limit) break;
  }
  return Promise.all(infos.map((wf) => toRow(session, wf)));
}

async function toRow(session: Session, wf: WorkflowExecutionInfo): Promise<HistoryRow> {
  const sa = wf.typedSearchAttributes;
  const outcome = sa.get(OUTCOME) ?? (wf.status.name === 'RUNNING' ? `running (${sa.get(STEP) ?? '?'})` : wf.status.name.toLowerCase());
  const end = wf.closeTime ?? new Date();
  return {
    workflowId: wf.workflowId,
    runId: wf.runId,
    startTime: wf.startTime.toISOString(),
    closeTime: wf.closeTime?.toISOString(),
    startedBy: await startedBy(session, wf),
    fromRelease: sa.get(FROM_RELEASE),
    release: sa.get(RELEASE),
    outcome,
    durationMs: end.getTime() - wf.startTime.getTime(),
  };
}

/** "Started by" lives in the run's static details (written by `bluegreen deploy`); unknown otherwise. */
async function startedBy(session: Session, wf: WorkflowExecutionInfo): Promise<string | undefined> {
  try {
    const d = await session.client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    const details = await d.staticDetails();
    return details ? /\*\*Started by\*\* ([^\n]+?)\s*$/m.exec(details)?.[1]?.trim() : undefined;
  } catch {
    return undefined;
  }
}
