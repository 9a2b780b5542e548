// Reading a plan file from disk (CLI and tests). Not for the workflow: it uses Node's fs.
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { findDuplicateJsonKey } from './json-duplicates';
import { type Plan } from './schema';
import { PlanError, parsePlan, parseRecoveryPlan } from './validate';

const MAX_PLAN_BYTES = 1024 * 1024;

/** Parses JSON or YAML text; syntax errors become a PlanError naming the line. */
export function parsePlanText(text: string, source = 'plan'): unknown {
  const trimmed = text.trimStart();
  let value: unknown;
  if (trimmed.startsWith('{') || trimmed.startsWith('[') || trimmed.startsWith('"')) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new PlanError([
        { path: source, expected: 'valid JSON', found: `a syntax error: ${withLineColumn(text, (err as Error).message)}` },
      ]);
    }
    const dup = findDuplicateJsonKey(text);
    if (dup) {
      throw new PlanError([
        {
          path: source,
          expected: 'valid JSON with each key once per object',
          found: `key ${JSON.stringify(dup.key.slice(0, 60))} at line ${dup.firstLine} and again at line ${dup.line}, column ${dup.column}, in ${dup.path} (JSON would silently keep the last value)`,
        },
      ]);
    }
  } else {
    try {
      // uniqueKeys: a duplicated key is an error, not a silent override; maxAliasCount stops alias bombs.
      value = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: true });
    } catch (err) {
      const msg = (err as Error).message.split('\n')[0]?.replace(/:$/, '') ?? 'unreadable';
      throw new PlanError([{ path: source, expected: 'valid YAML or JSON', found: `a syntax error: ${msg}` }]);
    }
  }
  if (value === null || value === undefined) {
    throw new PlanError([{ path: source, expected: 'a plan (a YAML or JSON object)', found: 'an empty document' }]);
  }
  return value;
}

/** Node reports JSON errors "at position N"; an operator wants line and column. */
function withLineColumn(text: string, message: string): string {
  const m = / at position (\d+)/.exec(message);
  if (!m) return message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${message.replace(/ in JSON at position \d+.*$/, '').replace(/ at position \d+.*$/, '')} at line ${line}, column ${column}`;
}

export async function loadPlanInput(path: string): Promise<unknown> {
  // Size first: a huge (or endless, like /dev/zero) file is refused without reading it.
  const info = await stat(path);
  if (!info.isFile() && !info.isDirectory())
    throw new PlanError([{ path, expected: 'a plan file', found: 'something that is not a regular file' }]);
  if (info.size > MAX_PLAN_BYTES) {
    throw new PlanError([{ path, expected: `a plan file under ${MAX_PLAN_BYTES} bytes`, found: `${info.size} bytes` }]);
  }
  const buf = await readFile(path);
  return parsePlanText(buf.toString('utf8'), path);
}

export async function loadPlan(path: string, opts: { recovery?: boolean } = {}): Promise<Plan> {
  const input = await loadPlanInput(path);
  return opts.recovery ? parseRecoveryPlan(input) : parsePlan(input);
}
