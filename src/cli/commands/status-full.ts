// `bluegreen status` through the full Temporal client: --watch, no ENV (the one running run), a closed
// run (its result is in history), and whatever the light path leaves to it.
import { CliError, EXIT } from '../errors';
import { checkEnvironment, findRun, withSession, type GlobalOptions, type Session } from '../context';
import { exitFor, follow } from '../follow';
import { loadRunView } from '../run-view';
import { show } from '../status-show';

export async function fullStatus(
  globals: GlobalOptions,
  env: string | undefined,
  opts: { intervalMs: number; json: boolean; watch: boolean },
  setExit: (n: number) => void,
): Promise<void> {
  await withSession(globals, async (session) => {
    const environment = env ? checkEnvironment(env) : await theRunningEnvironment(session);
    const run = await findRun(session, environment);
    if (opts.watch) {
      const last = await follow(session, run, { intervalMs: opts.intervalMs, json: opts.json });
      setExit(exitFor(last));
      return;
    }
    await show(await loadRunView(session, run), opts.json, setExit);
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
