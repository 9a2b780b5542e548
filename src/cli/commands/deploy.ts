// bluegreen deploy PLAN [--wait]: validates the plan, starts the run, prints its id and web link.
import type { Command } from 'commander';
import { CliError, EXIT, messageOf } from '../errors';
import { osUser, type GlobalOptions } from '../options';

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
      // Loaded here, not at start: other commands need neither plan validation nor the client.
      const [{ describePlan, readPlan }, { withSession }, { announceAndFollow }] = await Promise.all([
        import('../plan-file'),
        import('../context'),
        import('../started-run'),
      ]);
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
            throw new CliError(
              err.message,
              EXIT.failed,
              `follow it: bluegreen status ${plan.environment} --watch, or stop it: bluegreen abort ${plan.environment} --reason "..."`,
            );
          }
          throw new CliError(
            `could not start the run: ${messageOf(err)}`,
            EXIT.failed,
            'check the Temporal address and namespace (--address, --namespace)',
          );
        }
        await announceAndFollow(
          session,
          {
            environment: plan.environment,
            workflowId: handle.workflowId,
            firstExecutionRunId: handle.firstExecutionRunId,
            headline: `Started the deployment of ${describePlan(plan)}`,
          },
          opts,
          setExit,
        );
      });
    });
}
