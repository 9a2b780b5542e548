// A plan's problems, as an error and in words, without the schema: workflow code throws and reads
// them, and importing the schema there would evaluate zod for every new workflow (see DESIGN.md).
export interface PlanIssue {
  path: string;
  expected: string;
  found: string;
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
