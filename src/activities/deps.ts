// What the activities need from the outside world. The worker hands in the real ssh2 client,
// HAProxy adapter and HTTP checks; unit tests may hand in fakes with the same shape.
import type { LbConfig, SshTarget } from './types';
import type { LoadBalancer } from './lb';
import type { checkHealth, smokeTest } from '../adapters/http/checks';

export interface ExecResult {
  code: number | null;
  signal?: string | null;
  stdout: string;
  stderr: string;
  truncated?: boolean;
}

export interface ExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  onOutput?: (tail: string) => void;
}

export interface SshDep {
  exec(target: SshTarget, command: string, opts: ExecOptions): Promise<ExecResult>;
}

export type LbDep = (config: LbConfig) => LoadBalancer;

/** The HTTP checks of adapters/http/checks.ts, or fakes with the same signatures. */
export interface HttpDep {
  checkHealth: typeof checkHealth;
  smokeTest: typeof smokeTest;
}

export interface ActivityDeps {
  ssh: SshDep;
  lb: LbDep;
  http: HttpDep;
}
