// The `bluegreen` CLI: operators' commands over a deployment run. Exit codes: 0 ok, 1 the operation
// failed, 2 usage or invalid input, 3 not found. Every error says what to do next.
// Each command's module only registers it: what the command runs is imported when it runs, so that
// `status`, `--help` and `--version` do not load plan validation, the workflow package or ssh2.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError, EXIT, formatError, messageOf } from './errors';
import type { GlobalOptions } from './options';
import { registerDecide } from './commands/decide';
import { registerDeploy } from './commands/deploy';
import { registerHistory } from './commands/history';
import { registerPlan } from './commands/plan';
import { registerRecover } from './commands/recover';
import { registerStatus } from './commands/status';

export function buildProgram(setExit: (n: number) => void): Command {
  const program = new Command('bluegreen')
    .description('Blue-green deployments as durable Temporal workflows')
    .option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS or localhost:7233)')
    .option('--namespace <name>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE or default)')
    .option('--task-queue <name>', 'task queue of the workers (default: $BG_TASK_QUEUE or bluegreen)')
    .version(packageVersion(), '-V, --version', 'print the version of bluegreen')
    .showHelpAfterError('(bluegreen --help lists the commands)')
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  registerDeploy(program, globals, setExit);
  registerRecover(program, globals, setExit);
  registerStatus(program, globals, setExit);
  registerDecide(program, globals, setExit);
  registerHistory(program, globals);
  registerPlan(program, setExit);
  // Subcommands inherit exitOverride only when set before they are added: set it on every one.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride();
  return program;
}

/** The version in package.json: next to dist/ when compiled, two levels up from src/cli under tsx. */
function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'bluegreen' && pkg.version) return pkg.version;
    } catch {
      // Not there from this layout: try the next.
    }
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((n) => (code = n));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; everything else commander reports is a usage error.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      console.error(formatError(err));
      return err.exitCode;
    }
    console.error(`error: ${messageOf(err)}`);
    console.error('next: this looks like a bug or an unexpected server answer; rerun with BG_DEBUG=1 for the stack trace');
    if (process.env.BG_DEBUG) console.error(err);
    return EXIT.failed;
  }
}
