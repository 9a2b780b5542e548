// Asking the operator before an irreversible step. Only on a terminal: a script cannot answer, so it
// must say --yes itself rather than have an approval slip through unread.
import { createInterface } from 'node:readline/promises';

export function canAsk(): boolean {
  return Boolean(process.stdin.isTTY);
}

/** Prints `question`, reads one line; true only for y or yes. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(question);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
