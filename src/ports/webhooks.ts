// The webhook port: find a webhook's URL by its name, and POST one body to it. URLs are secrets (a
// Slack webhook's path is its credential): they stay on this side of the port, in the worker, and
// nothing either method returns contains one. src/adapters/http/webhooks.ts implements it.

export type WebhookLookup = { url: URL; source: string } | { error: string };

export interface PostResult {
  ok: boolean;
  /** Worth another attempt: no answer, a timeout, 408, 429 or 5xx. */
  retryable: boolean;
  /** Why it failed, for people, with no URL in it. */
  error?: string;
}

export interface WebhookPort {
  /** The URL for a plan's webhook name, and where it came from; or why there is none. */
  lookup(name: string): WebhookLookup;
  /** One POST of a JSON body, within timeoutMs. */
  post(url: URL, body: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<PostResult>;
}
