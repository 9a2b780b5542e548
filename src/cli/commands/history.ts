// bluegreen history ENV: past runs from Temporal's visibility, found by the BgEnvironment search attribute.
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors';
import { checkEnvironment, type GlobalOptions } from '../options';

interface Options {
  limit: string;
  json?: boolean;
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
      // Loaded here, not at start: the client, search attributes (the SDK's common package) and tables.
      const [{ withSession }, { historyRows }, { duration, table, when }] = await Promise.all([
        import('../context'),
        import('../history-rows'),
        import('../format'),
      ]);
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
