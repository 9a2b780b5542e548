// Reading a plan file from disk (CLI and tests). Not for the workflow: it uses Node's fs.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { type Plan } from './schema';
import { PlanError, parsePlan } from './validate';

const MAX_PLAN_BYTES = 1024 * 1024;

/** Parses JSON or YAML text; syntax errors become a PlanError naming the line. */
export function parsePlanText(text: string, source = 'plan'): unknown {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new PlanError([{ path: source, expected: 'valid JSON', found: `a syntax error: ${(err as Error).message}` }]);
    }
  }
  try {
    // uniqueKeys: a duplicated key is an error, not a silent override.
    return parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: true });
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? 'unreadable';
    throw new PlanError([{ path: source, expected: 'valid YAML or JSON', found: `a syntax error: ${msg}` }]);
  }
}

export async function loadPlanInput(path: string): Promise<unknown> {
  const buf = await readFile(path);
  if (buf.length > MAX_PLAN_BYTES) {
    throw new PlanError([{ path, expected: `a plan file under ${MAX_PLAN_BYTES} bytes`, found: `${buf.length} bytes` }]);
  }
  return parsePlanText(buf.toString('utf8'), path);
}

export async function loadPlan(path: string): Promise<Plan> {
  return parsePlan(await loadPlanInput(path));
}
