// Keypresses in the demo's terminal: `a` approves the pending gate, `r` rejects it, Ctrl-C stops
// everything. Only when standard input is a terminal; otherwise gates are approved from another
// terminal (or with --yes).
export interface KeyActions {
  approve(): void;
  reject(): void;
  interrupt(): void;
}

export function listenForKeys(actions: KeyActions): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  stdin.resume();
  const onData = (buf: Buffer) => {
    const key = buf.toString();
    // Raw mode delivers Ctrl-C as a byte instead of SIGINT.
    if (key === '\u0003') actions.interrupt();
    else if (key === 'a' || key === 'A') actions.approve();
    else if (key === 'r' || key === 'R') actions.reject();
  };
  stdin.on('data', onData);
  return () => {
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
}
