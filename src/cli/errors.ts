// Exit codes and the one error type the commands throw: a message plus what to do next.
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    /** What the operator can do next; printed on its own line. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function formatError(err: CliError): string {
  return `error: ${err.message}${err.hint ? `\nnext: ${err.hint}` : ''}`;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
