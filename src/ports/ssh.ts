// The SSH port: run one command on one host and get its exit status and output. The activities
// depend on this and nothing else of SSH; src/adapters/ssh implements it with ssh2 and pinned host
// keys, and unit tests hand in fakes. Only what is safe in workflow history: no keys here.

export interface SshTarget {
  host: string;
  port: number;
  user: string;
}

export interface ExecOptions {
  /** Whole exec, connect included. On expiry the remote command is killed. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called now and then with the last characters of stdout+stderr (for heartbeats and progress). */
  onOutput?: (tail: string) => void;
}

export interface ExecResult {
  /** Exit status; null if the host sent none. */
  code: number | null;
  signal?: string | null;
  stdout: string;
  stderr: string;
  /** Output was longer than the adapter keeps and was cut in the middle. */
  truncated?: boolean;
}

export interface SshPort {
  exec(target: SshTarget, command: string, opts: ExecOptions): Promise<ExecResult>;
}
