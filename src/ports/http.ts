// The HTTP port: one health check of a host, one smoke test through the standby frontend. Polling,
// deadlines and what a failure means belong to the activities; src/adapters/http makes the requests.

export interface CheckResult {
  ok: boolean;
  /** HTTP status, or 0 when no response arrived. */
  status: number;
  release?: string;
  host?: string;
  /** Why it is not ok (empty when ok). */
  reason: string;
  ms: number;
  /** The body was longer than the cap and was cut. */
  truncated?: boolean;
}

export interface RequestOptions {
  timeoutMs: number;
  connectTimeoutMs?: number;
  maxBodyBytes?: number;
  signal?: AbortSignal;
}

export interface HealthCheckOptions extends RequestOptions {
  /** The release the answer must name; omitted: any 2xx is healthy. */
  expectRelease?: string;
}

export interface SmokeTestSpec {
  path: string;
  expectStatus?: number;
  expectBodyContains?: string;
  expectRelease?: boolean;
  /** The plan's per-test timeout; overrides opts.timeoutMs. */
  timeoutSeconds?: number;
}

export interface SmokeTestOptions extends Omit<RequestOptions, 'timeoutMs'> {
  release: string;
  timeoutMs?: number;
  /** A response header that names the server that answered (HAProxy's `X-Server %s`); read before X-Host. */
  responderHeader?: string;
}

/** Smoke tests that reuse their connections (keep-alive) until close(). */
export interface SmokeSession {
  smokeTest(baseUrl: string, test: SmokeTestSpec, opts: SmokeTestOptions): Promise<CheckResult>;
  /** Closes every connection of the session, idle or not: none outlives the activity. */
  close(): void;
}

export interface HttpPort {
  /** One health check: 2xx, and the expected release when given. */
  checkHealth(url: string, opts: HealthCheckOptions): Promise<CheckResult>;
  /** One smoke test through `baseUrl` (the standby frontend). Without expectStatus, any 2xx passes. */
  smokeTest(baseUrl: string, test: SmokeTestSpec, opts: SmokeTestOptions): Promise<CheckResult>;
  /**
   * A session of smoke tests on reused connections, at most `maxConnections` per origin. Optional:
   * without it (fakes) every smoke test is a plain smokeTest. Health checks never reuse connections.
   */
  smokeSession?(maxConnections: number): SmokeSession;
}
