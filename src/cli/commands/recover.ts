// bluegreen recover ENV --to RELEASE --plan PLAN [--wait]: starts a recovery of a fleet a failed
// rollback left mixed (recoverFleet), on the environment's workflow id, and follows it like deploy.
import type { Command } from 'commander';
import { CliError, EXIT, messageOf } from '../errors';
import { checkEnvironment, osUser, type GlobalOptions } from '../options';

interface Options {
  to: string;
  plan: string;
  wait?: boolean;
  json?: boolean;
  by?: string;
  interval: string;
}

export function registerRecover(program: Command, globals: () => GlobalOptions, setExit: (n: number) => void): void {
  program
    .command('recover')
    .description(
      'bring every host of ENV to one release after a rollback could not finish (surveys first; refuses what it cannot recover safely)',
    )
    .argument('<environment>', 'environment name (the plan\'s "environment")')
    .requiredOption('--to <release>', 'the release every host ends on, e.g. the one the failed rollback was restoring')
    .requiredOption('--plan <file>', "the environment's plan (its release and currentRelease are not used)")
    .option('--wait', 'follow the run until it ends; exit 0 only if every host ended on the release, live')
    .option('--json', 'print one JSON document (with --wait: at the end); other lines go to stderr')
    .option('--by <name>', 'who starts it, recorded in the run (default: your OS user)')
    .option('--interval <seconds>', 'refresh interval for --wait', '1')
    .action(async (environment: string, opts: Options) => {
      checkEnvironment(environment);
      // Loaded here, not at start: other commands need neither plan validation nor the client.
      const [{ RELEASE_PATTERN }, { readPlan }, { withSession }, { announceAndFollow }] = await Promise.all([
        import('../../plan/schema'),
        import('../plan-file'),
        import('../context'),
        import('../started-run'),
      ]);
      if (!RELEASE_PATTERN.test(opts.to)) {
        throw new CliError(
          `"${opts.to}" is not a release (1-64 letters, digits, ".", "_", "-")`,
          EXIT.usage,
          'name the release to converge to, e.g. --to v1',
        );
      }
      const plan = await readPlan(opts.plan, EXIT.usage, { recovery: true });
      if (plan.environment !== environment) {
        throw new CliError(
          `${opts.plan} is the plan of environment "${plan.environment}", not "${environment}"`,
          EXIT.usage,
          `give the plan of ${environment}, or run: bluegreen recover ${plan.environment} --to ${opts.to} --plan ${opts.plan}`,
        );
      }
      await withSession(globals(), async (session) => {
        const { taskQueue } = session.settings;
        const { RunAlreadyActiveError, startRecovery } = await import('../../client/start');
        let handle;
        try {
          handle = await startRecovery(session.client, plan, opts.to, { taskQueue, startedBy: opts.by ?? osUser() });
        } catch (err) {
          if (err instanceof RunAlreadyActiveError) {
            throw new CliError(
              `a run of environment "${environment}" is still open (workflow ${err.workflowId}); recovery waits for it to end`,
              EXIT.failed,
              `follow it: bluegreen status ${environment} --watch, or stop it: bluegreen abort ${environment} --reason "..."`,
            );
          }
          throw new CliError(
            `could not start the recovery: ${messageOf(err)}`,
            EXIT.failed,
            'check the Temporal address and namespace (--address, --namespace)',
          );
        }
        await announceAndFollow(
          session,
          {
            environment,
            workflowId: handle.workflowId,
            firstExecutionRunId: handle.firstExecutionRunId,
            headline: `Started the recovery of ${environment} to ${opts.to} (survey first: nothing changes unless every host and the load balancer answer)`,
          },
          opts,
          setExit,
        );
      });
    });
}
