// What the activities need from the outside world. The worker hands in the real ssh2 client,
// HAProxy adapter and HTTP checks; unit tests may hand in fakes with the same shape.
import type { LbConfig, SshTarget } from './types';
import type { LoadBalancer } from './lb';

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

export interface HealthResult {
  ok: boolean;
  status?: number;
  release?: string;
  host?: string;
  reason?: string;
}

export interface HttpDep {
  checkHealth(url: string, opts: { expectRelease?: string; timeoutMs: number }): Promise<HealthResult>;
  smokeTest(
    baseUrl: string,
    test: { path: string; expectStatus?: number; expectBodyContains?: string; expectRelease?: boolean },
    opts: { release: string; timeoutMs: number },
  ): Promise<HealthResult>;
}

export interface ActivityDeps {
  ssh: SshDep;
  lb: LbDep;
  http: HttpDep;
}
