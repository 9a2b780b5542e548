// bluegreen status [ENV] [--watch] [--json]. Registered cheaply; what runs is loaded when it runs.
// A plain `status ENV` of a running run takes the light read path (status-lite.ts); everything
// else, and whatever that path does not cover, uses the full Temporal client.
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors';
import { show } from '../status-show';
import { checkEnvironment, settingsFrom, type GlobalOptions } from '../options';

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
      if (env !== undefined && !opts.watch && process.env.BG_STATUS_CLIENT !== 'full') {
        const settings = settingsFrom(globals());
        const { liteRunView } = await import('../status-lite');
        const view = await liteRunView(settings, checkEnvironment(env));
        if (view) return show(view, Boolean(opts.json), setExit);
      }
      const { fullStatus } = await import('./status-full');
      await fullStatus(globals(), env, { intervalMs, json: Boolean(opts.json), watch: Boolean(opts.watch) }, setExit);
    });
}
