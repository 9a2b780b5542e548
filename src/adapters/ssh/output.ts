// Bounded capture of command output. A host may print gigabytes (or binary garbage); the worker
// must keep a fixed amount of memory whatever it prints, and still show the operator both how
// the command started and how it ended.

/** Keeps the first and last `maxBytes / 2` bytes of a stream and counts the rest. */
export class HeadTailBuffer {
  private readonly headMax: number;
  private readonly tailMax: number;
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** Every byte seen, kept or not. */
  total = 0;

  constructor(readonly maxBytes: number) {
    this.headMax = Math.ceil(maxBytes / 2);
    this.tailMax = maxBytes - this.headMax;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headBytes < this.headMax) {
      const take = Math.min(this.headMax - this.headBytes, chunk.length);
      // Copy: ssh2 may hand out views of larger buffers, which would pin them in memory.
      this.head.push(Buffer.from(chunk.subarray(0, take)));
      this.headBytes += take;
      chunk = chunk.subarray(take);
    }
    if (chunk.length === 0 || this.tailMax === 0) return;
    this.tail.push(Buffer.from(chunk.subarray(Math.max(0, chunk.length - this.tailMax))));
    this.tailBytes += Math.min(chunk.length, this.tailMax);
    // Compact lazily (at twice the bound) so each byte is copied a bounded number of times.
    if (this.tailBytes > 2 * this.tailMax) this.compactTail();
  }

  private compactTail(): void {
    const all = Buffer.concat(this.tail);
    this.tail = [Buffer.from(all.subarray(all.length - this.tailMax))];
    this.tailBytes = this.tailMax;
  }

  get truncated(): boolean {
    return this.total > this.maxBytes;
  }

  /** The kept bytes decoded as UTF-8 (invalid sequences become U+FFFD), with a marker at the gap. */
  text(): string {
    if (!this.truncated) return Buffer.concat([...this.head, ...this.tail]).toString('utf8');
    this.compactTail();
    const headText = Buffer.concat(this.head).toString('utf8');
    const tailText = Buffer.concat(this.tail).toString('utf8');
    const omitted = this.total - this.headBytes - this.tailBytes;
    return `${headText}\n[... ${omitted} bytes omitted ...]\n${tailText}`;
  }
}

/** The last few characters of combined stdout+stderr, made safe to show in a heartbeat. */
export class OutputTail {
  private text = '';

  constructor(private readonly maxChars: number) {}

  push(chunk: Buffer): void {
    // Only the end of a large chunk can survive; avoid decoding megabytes to keep a few lines.
    const slice = chunk.length > this.maxChars * 4 ? chunk.subarray(chunk.length - this.maxChars * 4) : chunk;
    this.text = (this.text + sanitize(slice.toString('utf8'))).slice(-this.maxChars);
  }

  get value(): string {
    return this.text;
  }
}

// Terminal control sequences in a heartbeat would garble the operator's terminal or Web UI.
function sanitize(s: string): string {
  return s
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

export function safeCall(fn: ((tail: string) => void) | undefined, value: string): void {
  try {
    fn?.(value);
  } catch {
    // A failing progress callback (e.g. a heartbeat after cancellation) must not break the command.
  }
}

/** Calls `fn` at most once per interval, trailing calls included, until cancelled. */
export function throttle(fn: () => void, intervalMs: number): (() => void) & { cancel(): void } {
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  const call = () => {
    if (timer) return;
    const wait = last + intervalMs - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  call.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return call;
}
