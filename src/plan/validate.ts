// Turns schema issues into messages an operator can act on: where (the path), what was expected,
// what was found. Deterministic and Node-free: the workflow uses it too.
import type { z } from 'zod';
import { planSchema, type Plan } from './schema';

export interface PlanIssue {
  path: string;
  expected: string;
  found: string;
}

export type PlanValidation = { ok: true; plan: Plan } | { ok: false; issues: PlanIssue[] };

export function validatePlan(input: unknown): PlanValidation {
  const result = planSchema.safeParse(input);
  if (result.success) return { ok: true, plan: result.data };
  return { ok: false, issues: result.error.issues.flatMap((i) => describeIssue(i, input)) };
}

export function formatPlanIssues(issues: PlanIssue[]): string {
  const lines = issues.map((i) => `  - ${i.path}: expected ${i.expected}, found ${i.found}`);
  return `The plan is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

export class PlanError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(formatPlanIssues(issues));
    this.name = 'PlanError';
  }
}

/** Validates or throws a PlanError whose message lists every problem. */
export function parsePlan(input: unknown): Plan {
  const v = validatePlan(input);
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
      return issue.keys.map((k) => ({ path: at([k]), expected: 'no such field (unknown field)', found: found([k]) }));
    case 'invalid_type':
      return [{ path: at(), expected: issue.expected === 'record' ? 'an object' : `a ${issue.expected}`, found: found() }];
    case 'too_small':
      return [{ path: at(), expected: bound(issue.origin, '>=', issue.minimum, issue.message), found: found() }];
    case 'too_big':
      return [{ path: at(), expected: bound(issue.origin, '<=', issue.maximum, issue.message), found: found() }];
    case 'invalid_value':
      return [{ path: at(), expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`, found: found() }];
    case 'invalid_union':
      return [{ path: at(), expected: 'one of the allowed shapes (see README: the plan)', found: found() }];
    default:
      return [{ path: at(), expected: stripPrefix(issue.message), found: found() }];
  }
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
  if (value !== null && typeof value === 'object') return 'an object';
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
