// bluegreen deploy PLAN [--wait]: validates the plan, starts the run, prints its id and web link.
import type { Command } from 'commander';
import { webLink } from '../../config';
import { CliError, EXIT, messageOf } from '../errors';
import { findRun, osUser, withSession, type GlobalOptions, type Session } from '../context';
import { exitFor, follow } from '../follow';
import { describePlan, readPlan } from '../plan-file';
import { runSummary } from '../run-summary';
import { renderStatus } from '../status-view';

interface Options {
  wait?: boolean;
  json?: boolean;
  by?: string;
  interval: string;
}

export function registerDeploy(program: Command, globals: () => GlobalOptions, setExit: (n: number) => void): void {
  program
    .command('deploy')
    .description('validate PLAN and start its deployment run (one run per environment)')
    .argument('<plan>', 'plan file (YAML or JSON)')
    .option('--wait', 'follow the run until it ends; exit 0 only if it succeeded')
    .option('--json', 'print one JSON document (with --wait: at the end, with outcome, reason, steps and hosts); other lines go to stderr')
    .option('--by <name>', 'who starts it, recorded in the run (default: your OS user)')
    .option('--interval <seconds>', 'refresh interval for --wait', '1')
    .action(async (planPath: string, opts: Options) => {
      const plan = await readPlan(planPath);
      await withSession(globals(), async (session) => {
        const { taskQueue } = session.settings;
        // Loaded on use: it pulls in the workflow code (for its type), which other commands do not need.
        const { RunAlreadyActiveError, startDeployment } = await import('../../client/start');
        let handle;
        try {
          handle = await startDeployment(session.client, plan, { taskQueue, startedBy: opts.by ?? osUser() });
        } catch (err) {
          if (err instanceof RunAlreadyActiveError) {
            throw new CliError(err.message, EXIT.failed, `follow it: bluegreen status ${plan.environment} --watch, or stop it: bluegreen abort ${plan.environment} --reason "..."`);
          }
          throw new CliError(`could not start the run: ${messageOf(err)}`, EXIT.failed, 'check the Temporal address and namespace (--address, --namespace)');
        }
        const runId = handle.firstExecutionRunId;
        const link = webLink(session.settings, handle.workflowId, runId);
        // With --json, stdout carries the one document; everything for people goes to stderr.
        const say = opts.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
        say(`Started the deployment of ${describePlan(plan)}`);
        say(`workflow  ${handle.workflowId}`);
        say(`run       ${runId}`);
        say(`web       ${link}`);
        if (!(await hasWorker(session, taskQueue))) {
          say(`warning: no worker polls task queue "${taskQueue}" yet; the run waits until one starts (npm run worker, see README)`);
        }
        if (!opts.wait) {
          if (opts.json) console.log(JSON.stringify({ environment: plan.environment, workflowId: handle.workflowId, runId, link }));
          else say(`Follow it: bluegreen status ${plan.environment} --watch`);
          return;
        }
        const run = await findRun(session, plan.environment, runId);
        const intervalMs = Number(opts.interval) * 1000 || 1000;
        const last = await follow(session, run, { intervalMs, json: false, compactOnPipe: true, quiet: Boolean(opts.json) });
        const code = exitFor(last);
        if (opts.json) console.log(JSON.stringify(runSummary(last, code), null, 2));
        else if (!process.stdout.isTTY) console.log(renderStatus(last));
        setExit(code);
      });
    });
}

export async function hasWorker(session: Session, taskQueue: string): Promise<boolean> {
  try {
    const r = await session.client.workflowService.describeTaskQueue({
      namespace: session.settings.namespace,
      taskQueue: { name: taskQueue, kind: 1 },
      taskQueueType: 1, // workflow tasks
    });
    return (r.pollers?.length ?? 0) > 0;
  } catch {
    return true; // unknown: do not warn
  }
}
