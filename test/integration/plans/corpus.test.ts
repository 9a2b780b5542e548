// The bad-plan corpus: every file in bad/ breaks good/full.yaml in one way, and its sidecar .expect
// lists the exact problems (path: expected X, found Y) the operator must see. Each is refused by
// loadPlan; a representative subset is also started straight as a workflow (as with
// `temporal workflow start --input-file`, some through the real Temporal CLI) and must fail at once
// with PlanError, before any activity is scheduled and with nothing contacted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { loadPlan, loadPlanInput, parsePlanText } from '../../../src/plan/load';
import { PlanError, validatePlan } from '../../../src/plan/validate';
import { blueGreenDeployment } from '../../../src/workflows';
import { FakeFleet } from '../../support/fake-fleet';
import { connectClient, uniqueId, withWorker, type TemporalHandles } from '../../support/temporal';

const run = promisify(execFile);
const here = fileURLToPath(new URL('../../support/plans/', import.meta.url));
const badDir = path.join(here, 'bad');
const goodPlan = path.join(here, 'good', 'full.yaml');

const corpus = fs
  .readdirSync(badDir)
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort()
  .map((name) => {
    const file = path.join(badDir, name);
    const expectFile = file.replace(/\.(ya?ml|json)$/, '.expect');
    const expected = fs
      .readFileSync(expectFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.replaceAll('{file}', file));
    return { name, file, expected };
  });

const issueLines = (err: PlanError) => err.issues.map((i) => `${i.path}: expected ${i.expected}, found ${i.found}`);

describe('the bad-plan corpus, through loadPlan', () => {
  it('has at least 40 plans, each with its expectations, and the plan they break is valid', async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    const plan = await loadPlan(goodPlan);
    expect(plan.order).toEqual(['green', 'blue']);
    expect(plan.gates.promote.approvers).toEqual(['alice', 'bob']);
  });

  it.each(corpus)('$name is refused with exactly the problems it lists', async ({ file, expected }) => {
    const err = await loadPlan(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PlanError);
    const lines = issueLines(err as PlanError);
    expect(lines).toEqual(expected);
    // One problem per line: a hostile value never breaks the message apart, and nothing is huge.
    const message = (err as PlanError).message;
    expect(message.split('\n')).toHaveLength(expected.length + 1);
    expect(message.length).toBeLessThan(400 * expected.length + 100);
  });

  it('refuses a plan file over 1 MB without parsing it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-plan-'));
    const big = path.join(dir, 'big.yaml');
    fs.writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    try {
      await expect(loadPlan(big)).rejects.toThrow(`${big}: expected a plan file under 1048576 bytes, found 1048579 bytes`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every problem of a plan broken in many ways at once, not only the first', () => {
    const input = parsePlanText(fs.readFileSync(goodPlan, 'utf8')) as Record<string, unknown>;
    const v = validatePlan({ ...input, parallelism: 0, release: '$(id)', order: ['green'], extra: 1 });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.issues.map((i) => i.path).sort()).toEqual(['plan.extra', 'plan.order', 'plan.order', 'plan.parallelism', 'plan.release']);
  });
});

// A representative subset (JSON and YAML, shape, fleet, numbers, unknown fields, hostile values).
const WORKFLOW_SUBSET = [
  'missing-clusters',
  'ssh-port-is-a-string',
  'host-in-both-clusters',
  'empty-cluster',
  'order-skips-cluster',
  'order-repeats-cluster',
  'health-timeout-negative',
  'parallelism-zero',
  'smoke-without-expectations',
  'unknown-field-skip-host-key-check',
  'hostile-release-semicolon',
  'hostile-release-newline',
  'hostile-release-unicode-lookalike',
  'hostile-release-10k',
  'hostile-backend-two-commands',
  'hostile-ssh-host-option',
  // A template the renderer could not run must stop the run before green is drained.
  'install-braces-one-or-two',
];
// These go through `temporal workflow start --input-file`, exactly as an operator would.
const VIA_TEMPORAL_CLI = new Set(['ssh-port-is-a-string', 'hostile-release-subshell', 'hostile-release-backticks']);

describe('bad plans started straight as a workflow', () => {
  let temporal: TemporalHandles;
  beforeAll(async () => {
    temporal = await connectClient();
  });
  afterAll(async () => {
    await temporal?.close();
  });

  const subset = corpus.filter(
    (c) =>
      WORKFLOW_SUBSET.includes(c.name.replace(/^\d+-|\.(ya?ml|json)$/g, '')) ||
      VIA_TEMPORAL_CLI.has(c.name.replace(/^\d+-|\.(ya?ml|json)$/g, '')),
  );

  it('the subset covers both formats and the Temporal CLI', () => {
    expect(subset.length).toBe(WORKFLOW_SUBSET.length + VIA_TEMPORAL_CLI.size - 1);
    expect(subset.some((c) => c.name.endsWith('.json')) && subset.some((c) => c.name.endsWith('.yaml'))).toBe(true);
  });

  it('each fails at once with a non-retryable PlanError naming the field, no activity scheduled, nothing contacted', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    const taskQueue = uniqueId('plans');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-plan-input-'));
    try {
      await withWorker(taskQueue, createActivities(fleet.deps()), async () => {
        const runs = await Promise.all(
          subset.map(async (c) => {
            const workflowId = uniqueId('badplan');
            const input = await loadPlanInput(c.file);
            if (VIA_TEMPORAL_CLI.has(c.name.replace(/^\d+-|\.(ya?ml|json)$/g, ''))) {
              // --input-file takes JSON; a YAML plan is converted first, as the README shows.
              const inputFile = path.join(tmp, `${workflowId}.json`);
              fs.writeFileSync(inputFile, JSON.stringify(input));
              await run(inject('temporalCliPath'), [
                'workflow',
                'start',
                '--address',
                temporal.address,
                '--namespace',
                'default',
                '--task-queue',
                taskQueue,
                '--type',
                'blueGreenDeployment',
                '--workflow-id',
                workflowId,
                '--input-file',
                inputFile,
              ]);
            } else {
              await temporal.client.workflow.start(blueGreenDeployment, { taskQueue, workflowId, args: [input] });
            }
            const handle = temporal.client.workflow.getHandle(workflowId);
            const error = await handle.result().then(
              () => undefined,
              (e: unknown) => e,
            );
            return { c, handle, error };
          }),
        );
        for (const { c, handle, error } of runs) {
          expect(error, c.name).toBeInstanceOf(WorkflowFailedError);
          const cause = (error as WorkflowFailedError).cause;
          expect(cause, c.name).toBeInstanceOf(ApplicationFailure);
          expect((cause as ApplicationFailure).type, c.name).toBe('PlanError');
          expect((cause as ApplicationFailure).nonRetryable, c.name).toBe(true);
          for (const line of c.expected) expect(cause?.message, c.name).toContain(line);
          const history = await handle.fetchHistory();
          const events = history.events ?? [];
          expect(
            events.some((e) => e.activityTaskScheduledEventAttributes),
            c.name,
          ).toBe(false);
          // Failed in its first workflow task: no retry, no timer, nothing else.
          expect(
            events.filter((e) => e.workflowTaskStartedEventAttributes),
            c.name,
          ).toHaveLength(1);
        }
      });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    expect(fleet.contacted).toEqual([]);
    expect(fleet.changes).toEqual([]);
  });
});
