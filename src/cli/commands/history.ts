// bluegreen history ENV: past runs from Temporal's visibility, found by the BgEnvironment search attribute.
import type { Command } from 'commander';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { FROM_RELEASE, OUTCOME, RELEASE, STEP } from '../../workflows/search-attributes';
import { CliError, EXIT } from '../errors';
import { checkEnvironment, withSession, type GlobalOptions, type Session } from '../context';
import { duration, table, when } from '../format';

interface Options {
  limit: string;
  json?: boolean;
}

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

export function registerHistory(program: Command, globals: () => GlobalOptions): void {
  program
    .command('history')
    .description('past runs of an environment, newest first: when, who, from → to, outcome, duration')
    .argument('<env>', 'environment')
    .option('-n, --limit <count>', 'how many runs', '20')
    .option('--json', 'machine-readable output')
    .action(async (env: string, opts: Options) => {
      checkEnvironment(env);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit ${opts.limit}: expected a whole number ≥ 1`, EXIT.usage);
      await withSession(globals(), async (session) => {
        const rows = await historyRows(session, env, limit);
        if (rows.length === 0) {
          throw new CliError(
            `no runs of environment "${env}" in namespace ${session.settings.namespace}`,
            EXIT.notFound,
            'start one with: bluegreen deploy PLAN (runs appear here within a few seconds)',
          );
        }
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        console.log(
          table(
            ['when', 'who', 'from → to', 'outcome', 'duration', 'run'],
            rows.map((r) => [
              when(r.startTime),
              r.startedBy ?? '?',
              `${r.fromRelease ?? '?'} → ${r.release ?? '?'}`,
              r.outcome,
              duration(r.durationMs),
              r.runId,
            ]),
          ),
        );
      });
    });
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
