// bluegreen approve|reject ENV GATE, abort|pause|resume ENV: every decision carries who and why.
import type { Command } from 'commander';
import { MESSAGE_NAMES } from '../../workflows/message-names';
import type { DecisionAck, Decider, GateDecision } from '../../workflows/messages';
import type { DeploymentStatus } from '../../workflows/state';
import { canAsk, confirm } from '../confirm';
import { CliError, EXIT, messageOf } from '../errors';
import type { RunRef } from '../context';
import { osUser, type GlobalOptions } from '../options';

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

function mustBeRunning(run: RunRef, named = false): void {
  if (!run.running) {
    throw new CliError(
      `${named ? 'run' : `the last run of ${run.environment}`} (${run.runId}) has already ended (${run.statusName}); there is nothing to decide`,
      EXIT.failed,
      `see how it ended: bluegreen status ${run.environment}`,
    );
  }
}

interface DecideOptions extends Options {
  run?: string;
  release?: string;
  yes?: boolean;
}

export function registerDecide(program: Command, globals: () => GlobalOptions, setExit: (n: number) => void): void {
  for (const kind of ['approve', 'reject'] as const) {
    program
      .command(kind)
      .description(
        `${kind} the pending gate of a run: shows the run, its release and the gate, and asks before sending (refused, with the reason, unless GATE is pending on that run and release)`,
      )
      .argument('<env>', 'environment')
      .argument('<gate>', 'the pending gate, e.g. promote-green or migrate')
      .option('--by <name>', 'who decides (default: your OS user)')
      .option('--reason <text>', 'why; recorded in the run')
      .option('--release <release>', 'the release you reviewed; refused if the run deploys another one')
      .option('--run <run-id>', 'the run you reviewed (default: the latest run of ENV); refused if it is not the one waiting')
      .option('-y, --yes', 'do not ask for confirmation (for scripts; required when not on a terminal)')
      .action(async (env: string, gate: string, opts: DecideOptions) => {
        const d = decider(opts);
        // The client is loaded when a decision is made, not when the CLI starts.
        const { findRun, withSession } = await import('../context');
        await withSession(globals(), async (session) => {
          const run = await findRun(session, env, opts.run);
          mustBeRunning(run, opts.run !== undefined);
          const status = await session.connection
            .withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => run.handle.query<DeploymentStatus>(MESSAGE_NAMES.statusQuery))
            .catch((err: unknown) => {
              throw new CliError(
                `cannot read run ${run.runId} to show what you would decide: ${messageOf(err)}`,
                EXIT.failed,
                `make sure a worker polls task queue "${run.taskQueue}" (npm run worker), then try again`,
              );
            });
          console.log(
            `${env}: run ${run.runId} deploys ${status.fromRelease} → ${status.release}; ${status.pendingGate ? `pending gate ${status.pendingGate.gate}` : 'no gate is pending'}`,
          );
          if (opts.release !== undefined && opts.release !== status.release) {
            throw new CliError(
              `you reviewed release ${opts.release}, but run ${run.runId} of ${env} deploys ${status.release}; nothing was sent`,
              EXIT.failed,
              `look at this run first: bluegreen status ${env}`,
            );
          }
          if (!opts.yes) {
            if (!canAsk()) {
              throw new CliError(
                `${kind} needs a confirmation, and this is not a terminal; nothing was sent`,
                EXIT.usage,
                `to decide without asking: bluegreen ${kind} ${env} ${gate} --release ${status.release} --run ${run.runId} --yes`,
              );
            }
            if (status.pendingGate?.gate !== gate) {
              throw new CliError(
                `gate ${gate} is not pending on run ${run.runId}; nothing was sent`,
                EXIT.failed,
                `see the pending gate with: bluegreen status ${env}`,
              );
            }
            if (
              !(await confirm(
                `${kind === 'approve' ? 'Approve' : 'Reject'} gate ${gate} of release ${status.release} (run ${run.runId})? [y/N] `,
              ))
            ) {
              console.log('Not confirmed; nothing was sent.');
              setExit(EXIT.failed);
              return;
            }
          }
          // Bound to what was shown: this run and this release. The run refuses it if either changed.
          const decision = { gate, ...d, runId: run.runId, release: opts.release ?? status.release };
          const update = kind === 'approve' ? MESSAGE_NAMES.approveUpdate : MESSAGE_NAMES.rejectUpdate;
          try {
            const ack = await session.connection.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () =>
              run.handle.executeUpdate<DecisionAck, [GateDecision]>(update, { args: [decision] }),
            );
            console.log(
              `${ack.decision} gate ${ack.gate} of ${env} release ${ack.release} (run ${run.runId}) as ${ack.by}${d.reason ? `: ${d.reason}` : ''}`,
            );
            console.log(
              kind === 'approve'
                ? `The run goes on; follow it: bluegreen status ${env} --watch`
                : `The run rolls back; follow it: bluegreen status ${env} --watch`,
            );
          } catch (err) {
            const { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } = await import('@temporalio/client');
            if (err instanceof WorkflowUpdateFailedError) {
              throw new CliError(
                `${kind} refused by the run: ${messageOf(err.cause ?? err)}`,
                EXIT.failed,
                `see the pending gate with: bluegreen status ${env}`,
              );
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
    abort: {
      signal: MESSAGE_NAMES.abortSignal,
      what: 'stop at the next safe point and roll back',
      done: 'abort requested: the run stops at the next safe point and rolls back',
    },
    pause: {
      signal: MESSAGE_NAMES.pauseSignal,
      what: 'hold the run at the next safe point (between steps)',
      done: 'pause requested: the run holds at the next safe point',
    },
    resume: { signal: MESSAGE_NAMES.resumeSignal, what: 'let a paused run go on', done: 'resume sent: a paused run goes on' },
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
        const { findRun, withSession } = await import('../context');
        await withSession(globals(), async (session) => {
          const run = await findRun(session, env);
          mustBeRunning(run);
          await run.handle.signal<[Decider]>(s.signal, d);
          console.log(`${s.done} (${env}, run ${run.runId}, by ${d.by}${d.reason ? `: ${d.reason}` : ''})`);
          console.log(`Follow it: bluegreen status ${env} --watch`);
        });
      });
  }
}
