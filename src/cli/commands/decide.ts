// bluegreen approve|reject ENV GATE, abort|pause|resume ENV: every decision carries who and why.
import type { Command } from 'commander';
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { abortSignal, approveUpdate, pauseSignal, rejectUpdate, resumeSignal, type Decider } from '../../workflows/messages';
import { CliError, EXIT, messageOf } from '../errors';
import { findRun, osUser, withSession, type GlobalOptions, type RunRef } from '../context';

interface Options {
  by?: string;
  reason?: string;
}

const UPDATE_DEADLINE_MS = 20_000;

function decider(opts: Options): Decider {
  const by = (opts.by ?? osUser()).trim();
  if (!by) throw new CliError('--by is empty', EXIT.usage, 'say who decides: --by alice');
  return { by, ...(opts.reason ? { reason: opts.reason } : {}) };
}

function mustBeRunning(run: RunRef): void {
  if (!run.running) {
    throw new CliError(
      `the last run of ${run.environment} (${run.runId}) has already ended (${run.statusName}); there is nothing to decide`,
      EXIT.failed,
      `see how it ended: bluegreen status ${run.environment}`,
    );
  }
}

export function registerDecide(program: Command, globals: () => GlobalOptions): void {
  for (const kind of ['approve', 'reject'] as const) {
    program
      .command(kind)
      .description(`${kind} the pending gate of a run (refused, with the reason, unless GATE is the gate pending now)`)
      .argument('<env>', 'environment')
      .argument('<gate>', 'the pending gate, e.g. promote-green or migrate')
      .option('--by <name>', 'who decides (default: your OS user)')
      .option('--reason <text>', 'why; recorded in the run')
      .action(async (env: string, gate: string, opts: Options) => {
        const d = decider(opts);
        await withSession(globals(), async (session) => {
          const run = await findRun(session, env);
          mustBeRunning(run);
          const update = kind === 'approve' ? approveUpdate : rejectUpdate;
          try {
            const ack = await session.connection.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () =>
              run.handle.executeUpdate(update, { args: [{ gate, ...d, runId: run.runId }] }),
            );
            console.log(`${ack.decision} gate ${ack.gate} of ${env} (run ${run.runId}) as ${ack.by}${d.reason ? `: ${d.reason}` : ''}`);
            console.log(kind === 'approve' ? `The run goes on; follow it: bluegreen status ${env} --watch` : `The run rolls back; follow it: bluegreen status ${env} --watch`);
          } catch (err) {
            if (err instanceof WorkflowUpdateFailedError) {
              throw new CliError(`${kind} refused by the run: ${messageOf(err.cause ?? err)}`, EXIT.failed, `see the pending gate with: bluegreen status ${env}`);
            }
            if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || /deadline/i.test(messageOf(err))) {
              throw new CliError(
                `the run did not accept the decision within ${UPDATE_DEADLINE_MS / 1000} s`,
                EXIT.failed,
                `make sure a worker polls task queue "${run.taskQueue}" (npm run worker), then try again`,
              );
            }
            throw err;
          }
        });
      });
  }

  const signals = {
    abort: { signal: abortSignal, what: 'stop at the next safe point and roll back', done: 'abort requested: the run stops at the next safe point and rolls back' },
    pause: { signal: pauseSignal, what: 'hold the run at the next safe point (between steps)', done: 'pause requested: the run holds at the next safe point' },
    resume: { signal: resumeSignal, what: 'let a paused run go on', done: 'resume sent: a paused run goes on' },
  } as const;
  for (const [name, s] of Object.entries(signals)) {
    program
      .command(name)
      .description(s.what)
      .argument('<env>', 'environment')
      .option('--by <name>', 'who decides (default: your OS user)')
      .option('--reason <text>', 'why; recorded in the run')
      .action(async (env: string, opts: Options) => {
        const d = decider(opts);
        await withSession(globals(), async (session) => {
          const run = await findRun(session, env);
          mustBeRunning(run);
          await run.handle.signal(s.signal, d);
          console.log(`${s.done} (${env}, run ${run.runId}, by ${d.by}${d.reason ? `: ${d.reason}` : ''})`);
          console.log(`Follow it: bluegreen status ${env} --watch`);
        });
      });
  }
}
