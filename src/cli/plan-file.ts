// Loading a plan for a command: a missing file or an invalid plan is the operator's input to fix.
import { loadPlan } from '../plan/load';
import type { Plan } from '../plan/schema';
import { PlanError } from '../plan/validate';
import { CliError, EXIT, messageOf } from './errors';

export async function readPlan(path: string, invalidExit: number = EXIT.usage, opts: { recovery?: boolean } = {}): Promise<Plan> {
  try {
    return await loadPlan(path, opts);
  } catch (err) {
    if (err instanceof PlanError) {
      throw new CliError(
        `${path}: ${err.message}`,
        invalidExit as CliError['exitCode'],
        `fix the fields above, then check again with: bluegreen plan validate ${path}`,
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      throw new CliError(
        `cannot read the plan ${path} (${code})`,
        EXIT.usage,
        'give the path of a plan file (YAML or JSON); the lab writes one: npm run lab -- up → .lab/plan.json',
      );
    }
    throw new CliError(`cannot read the plan ${path}: ${messageOf(err)}`, EXIT.usage);
  }
}

export function describePlan(plan: Plan): string {
  const lines = [
    `environment ${plan.environment}: ${plan.currentRelease} → ${plan.release}`,
    `order: ${plan.order.join(' → ')}`,
    ...plan.order.map((c) => `  ${c}: ${(plan.clusters[c]?.hosts ?? []).map((h) => h.name).join(', ')}`),
    `gates: promote ${plan.gates.promote.enabled ? 'on' : 'off'}, migrate ${plan.gates.migrate.enabled ? 'on' : 'off'}; ` +
      `migration: ${plan.migration ? `on ${plan.migration.host}` : 'none'}; parallelism ${plan.parallelism}`,
    ...(plan.notify?.length
      ? [`notify: ${plan.notify.map((w) => `${w.name} (${w.format}${w.events ? `: ${w.events.join(', ')}` : ''})`).join(', ')}`]
      : []),
  ];
  return lines.join('\n');
}
