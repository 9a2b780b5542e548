// bluegreen status [ENV] [--watch] [--json]
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors';
import { checkEnvironment, findRun, withSession, type GlobalOptions, type Session } from '../context';
import { exitFor, follow } from '../follow';
import { loadRunView } from '../run-view';
import { renderStatus } from '../status-view';

interface Options {
  watch?: boolean;
  json?: boolean;
  interval: string;
}

export function registerStatus(program: Command, globals: () => GlobalOptions, setExit: (n: number) => void): void {
  program
    .command('status')
    .description('show a run: steps with durations, every host (release, pool, phase, last error), the pending gate, decisions')
    .argument('[env]', 'environment; default: the one deployment that is running now')
    .option('-w, --watch', 'redraw in place until the run ends')
    .option('--json', 'machine-readable output (with --watch: one JSON object per change)')
    .option('--interval <seconds>', 'refresh interval for --watch', '1')
    .action(async (env: string | undefined, opts: Options) => {
      const intervalMs = Number(opts.interval) * 1000;
      if (!Number.isFinite(intervalMs) || intervalMs < 100)
        throw new CliError(`--interval ${opts.interval}: expected seconds ≥ 0.1`, EXIT.usage);
      await withSession(globals(), async (session) => {
        const environment = env ? checkEnvironment(env) : await theRunningEnvironment(session);
        const run = await findRun(session, environment);
        if (opts.watch) {
          const last = await follow(session, run, { intervalMs, json: Boolean(opts.json) });
          setExit(exitFor(last));
          return;
        }
        const view = await loadRunView(session, run);
        console.log(opts.json ? JSON.stringify(view, null, 2) : renderStatus(view));
        if (!view.status && view.hint) {
          console.error(`error: ${view.failure}\nnext: ${view.hint}`);
          setExit(EXIT.failed);
        }
      });
    });
}

async function theRunningEnvironment(session: Session): Promise<string> {
  const envs: string[] = [];
  for await (const wf of session.client.workflow.list({
    query: `WorkflowType = 'blueGreenDeployment' AND ExecutionStatus = 'Running'`,
  })) {
    const env = wf.workflowId.replace(/^bluegreen-/, '');
    if (!envs.includes(env)) envs.push(env);
    if (envs.length > 20) break;
  }
  if (envs.length === 1) return envs[0] as string;
  if (envs.length === 0) {
    throw new CliError(
      'no deployment is running now',
      EXIT.notFound,
      'name an environment to see its last run (bluegreen status ENV), or see past runs with bluegreen history ENV',
    );
  }
  throw new CliError(`${envs.length} deployments are running: ${envs.join(', ')}`, EXIT.usage, `name one: bluegreen status ${envs[0]}`);
}
