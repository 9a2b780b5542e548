// Where webhook URLs come from, and how one is posted to. A URL is a secret (a Slack webhook's path
// is its credential): it lives in the worker's environment or a file only the worker reads, and no
// message built here contains it, or any URL at all.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { PostResult, WebhookLookup, WebhookPort } from '../../ports/webhooks';

export const WEBHOOKS_FILE_VAR = 'BLUEGREEN_WEBHOOKS_FILE';

const yamlParser = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');

/** `ops-slack` -> `BLUEGREEN_WEBHOOK_OPS_SLACK` (names are lowercase letters, digits and "-"). */
export function webhookEnvVar(name: string): string {
  return `BLUEGREEN_WEBHOOK_${name.toUpperCase().replaceAll('-', '_')}`;
}

export interface WebhookDirectory {
  lookup(name: string): WebhookLookup;
}

/** The worker's webhooks: URLs from its environment (or the file it names), real POSTs. */
export function webhooksFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookPort {
  const directory = webhookDirectory(env);
  return { lookup: (name) => directory.lookup(name), post: postWebhook };
}

/**
 * Reads `BLUEGREEN_WEBHOOK_<NAME>` first, then the name in the JSON or YAML file named by
 * BLUEGREEN_WEBHOOKS_FILE (`{ "ops-slack": "https://..." }`). The file is read again whenever it
 * changes (size, mtime or inode), so a rotated URL needs no worker restart.
 */
export function webhookDirectory(env: NodeJS.ProcessEnv = process.env): WebhookDirectory {
  let cached: { key: string; urls: Map<string, unknown> } | { key: string; error: string } | undefined;
  const file = env[WEBHOOKS_FILE_VAR] || undefined;

  const readFile = (path: string): { urls: Map<string, unknown> } | { error: string } => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch (err) {
      return { error: `${WEBHOOKS_FILE_VAR}=${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    const key = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (cached?.key === key) return cached;
    let parsed: unknown;
    try {
      // YAML is a superset of JSON: one parser reads both. Loaded on first use, not at the
      // worker's start (it is on the start-up's critical path: DESIGN.md, "Worker start-up").
      parsed = yamlParser().parse(fs.readFileSync(path, 'utf8'));
    } catch (err) {
      // The parser quotes the offending line, which may hold a URL: say only where it is.
      const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
      cached = { key, error: `${WEBHOOKS_FILE_VAR}=${path}: not valid JSON or YAML${line ? ` (line ${line})` : ''}` };
      return cached;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      cached = { key, error: `${WEBHOOKS_FILE_VAR}=${path}: expected a mapping of webhook name to URL` };
      return cached;
    }
    cached = { key, urls: new Map(Object.entries(parsed)) };
    return cached;
  };

  return {
    lookup(name) {
      const variable = webhookEnvVar(name);
      const fromEnv = env[variable];
      if (fromEnv) return checkUrl(fromEnv, variable);
      const notHere = `webhook ${name} is not configured on this worker: set ${variable} in its environment${file ? `, or add ${name} to ${file}` : `, or name a file with ${WEBHOOKS_FILE_VAR}`}`;
      if (!file) return { error: notHere };
      const read = readFile(file);
      if ('error' in read) return { error: `webhook ${name}: ${read.error}` };
      const value = read.urls.get(name);
      if (value === undefined) return { error: notHere };
      if (typeof value !== 'string') return { error: `webhook ${name} in ${file}: expected a URL string` };
      return checkUrl(value, `${name} in ${file}`);
    },
  };
}

function checkUrl(value: string, source: string): WebhookLookup {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { error: `${source} is not a URL (value not shown)` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { error: `${source} is not an http:// or https:// URL (value not shown)` };
  return { url, source };
}

/** Removes the webhook's URL (and any of its parts, and any other URL) from a message. */
export function redact(message: string, url?: URL): string {
  let out = message;
  if (url) {
    const parts = [
      url.href,
      url.href.replace(/\/$/, ''),
      `${url.host}${url.pathname}`,
      url.pathname.length > 1 ? url.pathname : '',
      url.search,
      url.host,
      url.hostname,
    ];
    for (const p of parts.filter((x) => x.length > 1).sort((a, b) => b.length - a.length)) out = out.split(p).join('<webhook>');
  }
  return out.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, '<url>');
}

/** One POST with a hard time limit; redirects are not followed (a webhook that moves is a misconfiguration). */
export const postWebhook: WebhookPort['post'] = async (url, body, { timeoutMs, signal }): Promise<PostResult> => {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'bluegreen-notify/1' },
      body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: true, retryable: false };
    }
    const excerpt = await res.text().then(
      (t) =>
        t
          .slice(0, 120)
          .replace(/[\u0000-\u001f\u007f]+/g, ' ')
          .trim(),
      () => '',
    );
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    const what = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
    return {
      ok: false,
      retryable,
      error: redact(`answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${what}${excerpt ? `: ${excerpt}` : ''}`, url),
    };
  } catch (err) {
    if (timeout.aborted) return { ok: false, retryable: true, error: `no answer within ${timeoutMs / 1000} s` };
    if (signal?.aborted) return { ok: false, retryable: false, error: 'stopped: the worker is shutting down' };
    return { ok: false, retryable: true, error: redact(describeNetworkError(err), url) };
  }
};

function describeNetworkError(err: unknown): string {
  // fetch says "fetch failed"; the reason is in its cause (ECONNREFUSED, ENOTFOUND, a TLS error...).
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    UND_ERR_SOCKET: 'connection closed by the receiver',
  };
  if (code && known[code]) return `${known[code]} (${code})`;
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}
