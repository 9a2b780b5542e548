// Turns schema issues into messages an operator can act on: where (the path), what was expected,
// what was found. Deterministic and Node-free: the workflow uses it too.
import type { z } from 'zod';
import { planSchema, recoveryPlanSchema, type Plan } from './schema';
import { PlanError, type PlanIssue } from './plan-error';

export { PlanError, formatPlanIssues, type PlanIssue } from './plan-error';

export type PlanValidation = { ok: true; plan: Plan } | { ok: false; issues: PlanIssue[] };

export function validatePlan(input: unknown, schema: typeof planSchema = planSchema): PlanValidation {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, plan: result.data };
  return { ok: false, issues: result.error.issues.flatMap((i) => describeIssue(i, input)).map(hideWebhookUrls) };
}

/** Validates or throws a PlanError whose message lists every problem. */
export function parsePlan(input: unknown): Plan {
  const v = validatePlan(input);
  if (!v.ok) throw new PlanError(v.issues);
  return v.plan;
}

/** The same for recovery, which accepts release == currentRelease (schema.ts says why). */
export function parseRecoveryPlan(input: unknown): Plan {
  const v = validatePlan(input, recoveryPlanSchema);
  if (!v.ok) throw new PlanError(v.issues);
  return v.plan;
}

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

function describeIssue(issue: Issue, input: unknown): PlanIssue[] {
  const at = (extra: PathKey[] = []) => formatPath([...issue.path, ...extra]);
  const found = (extra: PathKey[] = []) => show(valueAt(input, [...issue.path, ...extra]));
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({
        path: at([k]),
        expected: unknownField(k, knownFieldsAt(issue.path, input)),
        // A stray "password:" in a plan must not be echoed into logs and workflow history.
        found: SECRET_LIKE.test(String(k)) ? 'a value (not shown: the field name suggests a secret)' : found([k]),
      }));
    case 'invalid_type':
      return [{ path: at(), expected: typeName(issue.expected), found: found() }];
    case 'too_small':
      return [{ path: at(), expected: bound(issue.origin, '>=', issue.minimum, issue.message), found: found() }];
    case 'too_big':
      return [{ path: at(), expected: bound(issue.origin, '<=', issue.maximum, issue.message), found: found() }];
    case 'invalid_value':
      return [{ path: at(), expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`, found: found() }];
    case 'invalid_union': {
      // A discriminated union (loadBalancer.type) names the kinds it knows.
      const kinds =
        'discriminator' in issue && issue.path.length > 0 ? discriminatorValues(issue.path.slice(0, -1), String(issue.path.at(-1))) : [];
      if (kinds.length > 0) return [{ path: at(), expected: `one of ${kinds.map((v) => JSON.stringify(v)).join(', ')}`, found: found() }];
      return [{ path: at(), expected: 'one of the allowed shapes (see README: the plan)', found: found() }];
    }
    default:
      return [{ path: at(), expected: stripPrefix(issue.message), found: found() }];
  }
}

const SECRET_LIKE = /pass|secret|token|private|key|credential|auth/i;

/**
 * A webhook URL carries its own credential (Slack's is the path), and a plan ends up in history:
 * a URL written anywhere under `notify` is refused without being echoed, with where it belongs.
 */
function hideWebhookUrls(issue: PlanIssue): PlanIssue {
  const m = /^plan\.notify\[(\d+)\](.*)$/.exec(issue.path);
  if (!m) return issue;
  const field = /^\.(\w+)$/.exec(m[2] ?? '')?.[1];
  const urlField = field !== undefined && /url|uri|webhook|endpoint|href|address/i.test(field) && issue.expected.startsWith('no field');
  const looksLikeUrl = /:\/\/|hooks\.|^"?https?:/i.test(issue.found);
  if (!urlField && !looksLikeUrl) return issue;
  return {
    path: issue.path,
    expected: urlField
      ? `no field "${field}" here (a webhook's URL is a secret: give the worker BLUEGREEN_WEBHOOK_<NAME> in its environment, or the name in BLUEGREEN_WEBHOOKS_FILE; see README: Notifications)`
      : issue.expected,
    found: 'a value that looks like a URL (not shown: webhook URLs are secrets)',
  };
}

const TYPE_NAMES: Record<string, string> = {
  record: 'an object',
  object: 'an object',
  array: 'a list',
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? `${/^[aeiou]/i.test(expected) ? 'an' : 'a'} ${expected}`;
}

function unknownField(key: PropertyKey, known: string[]): string {
  const name = String(key);
  const close = known.filter((k) => editDistance(k.toLowerCase(), name.toLowerCase()) <= Math.max(1, Math.floor(k.length / 4)));
  if (close.length > 0) return `no field "${name}" here (unknown field; did you mean ${close.map((k) => `"${k}"`).join(' or ')}?)`;
  if (known.length > 0 && known.length <= 10) return `no field "${name}" here (unknown field; the fields here are ${known.join(', ')})`;
  return `no field "${name}" here (unknown field; see README: the plan)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

// Just enough of zod 4's internals to find the object schema at a path (for "did you mean").
interface SchemaDef {
  type: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
  valueType?: { _zod: { def: SchemaDef } };
  options?: { _zod: { def: SchemaDef } }[];
  discriminator?: string;
  values?: unknown[];
  /** A transform's input schema (a pipe's `in`). */
  in?: { _zod: { def: SchemaDef } };
}

const unwrap = (d: SchemaDef | undefined): SchemaDef | undefined => {
  for (;;) {
    if (d && (d.type === 'default' || d.type === 'optional' || d.type === 'nullable') && d.innerType) d = d.innerType._zod.def;
    else if (d?.type === 'pipe' && d.in) d = d.in._zod.def;
    else break;
  }
  return d;
};

/** The values a discriminated union at `path` accepts for its `key` (e.g. "haproxy", "nginx"). */
function discriminatorValues(path: readonly PathKey[], key: string): string[] {
  return schemasAt(path).flatMap((raw) => {
    const d = unwrap(raw);
    if (d?.type !== 'union' || d.discriminator !== key) return [];
    return (d.options ?? []).flatMap((o) => (unwrap(o._zod.def)?.shape?.[key]?._zod.def.values ?? []).map(String));
  });
}

function schemasAt(path: readonly PathKey[]): SchemaDef[] {
  let defs: SchemaDef[] = [(planSchema as unknown as { _zod: { def: SchemaDef } })._zod.def];
  for (const k of path) {
    defs = defs.flatMap((raw) => {
      const d = unwrap(raw);
      if (!d) return [];
      if (d.type === 'object' && d.shape && typeof k === 'string' && d.shape[k]) return [d.shape[k]._zod.def];
      if (d.type === 'array' && d.element && typeof k === 'number') return [d.element._zod.def];
      if (d.type === 'record' && d.valueType) return [d.valueType._zod.def];
      return [];
    });
  }
  return defs;
}

function knownFieldsAt(path: readonly PathKey[], input: unknown): string[] {
  const out = new Set<string>();
  for (const raw of schemasAt(path)) {
    const d = unwrap(raw);
    let options = d?.type === 'union' ? (d.options ?? []).map((o) => unwrap(o._zod.def)) : [d];
    if (d?.type === 'union' && d.discriminator) {
      // Only the fields of the kind the plan chose: an nginx block is not told about HAProxy's.
      const chosen = (valueAt(input, path) as Record<string, unknown> | undefined)?.[d.discriminator];
      const match = options.filter((o) => o?.shape?.[d.discriminator!]?._zod.def.values?.includes(chosen));
      if (match.length > 0) options = match;
    }
    const objects = options;
    for (const o of objects) if (o?.type === 'object' && o.shape) for (const k of Object.keys(o.shape)) out.add(k);
  }
  return [...out];
}

function bound(origin: string, op: string, limit: unknown, message: string): string {
  if (!message.startsWith('Too ')) return stripPrefix(message);
  const n = String(limit);
  if (origin === 'array') return `${op === '>=' ? 'at least' : 'at most'} ${n} item(s)`;
  if (origin === 'string') return `${op === '>=' ? 'at least' : 'at most'} ${n} character(s)`;
  return `a number ${op} ${n}`;
}

function stripPrefix(message: string): string {
  return message.replace(/^Invalid input: /, '').replace(/^expected /, '');
}

export function formatPath(path: readonly PathKey[]): string {
  let out = 'plan';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `.${String(k)}`;
  return out;
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, 6).map((k) => (/^[A-Za-z0-9_-]{1,40}$/.test(k) ? k : JSON.stringify(k.slice(0, 40))));
    return `an object with ${keys.length === 1 ? 'field' : 'fields'} ${shown.join(', ')}${keys.length > 6 ? ', ...' : ''}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  // JSON escaping keeps newlines and control characters visible (and out of the terminal).
  const s = JSON.stringify(value) ?? String(value);
  const shown = s.length <= 80 ? s : `${s.slice(0, 60)}...${typeof value === 'string' ? ` (${[...value].length} characters)` : ''}`;
  return typeof value === 'string' ? shown + nonAscii(value) : shown;
}

/** Lookalikes ("v２", Cyrillic "ѵ") read like ASCII: name the first character that is not. */
function nonAscii(value: string): string {
  const chars = [...value];
  const i = chars.findIndex((c) => c > '\x7e');
  if (i < 0) return '';
  const cp = (chars[i] ?? '').codePointAt(0) ?? 0;
  return ` (character ${i + 1} is U+${cp.toString(16).toUpperCase().padStart(4, '0')}, not ASCII)`;
}
