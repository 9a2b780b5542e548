// Redraws a block of text in place on a terminal (for --watch); on a pipe, prints a frame only when
// its content changed, so logs stay readable.
export class LiveArea {
  private rows = 0;
  private lastKey?: string;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  get isTty(): boolean {
    return Boolean(this.out.isTTY);
  }

  /** `key` identifies the content for pipes (time-dependent text should not count as a change). */
  draw(frame: string, key = frame): void {
    if (!this.isTty) {
      if (key === this.lastKey) return;
      this.lastKey = key;
      this.out.write(`${frame}\n`);
      return;
    }
    const erase = this.rows > 0 ? `\x1b[${this.rows}F\x1b[0J` : '';
    this.out.write(`${erase}${frame}\n`);
    this.rows = countRows(frame, this.out.columns || 80);
  }
}

function countRows(text: string, columns: number): number {
  return text.split('\n').reduce((n, line) => n + Math.max(1, Math.ceil([...line.replace(/\x1b\[[0-9;]*m/g, '')].length / columns)), 0);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
