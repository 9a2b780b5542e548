// Command templates: what `plan validate` accepts is exactly what the renderer runs (one parser for
// both), and the forms a shell user writes naturally work: "{release}", '{release}', sh -c scripts,
// awk programs, brace groups. Templates that cannot run are refused at validate time, saying how to
// write them, instead of failing at install after green was drained.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import { renderCommand } from '../../../src/activities/shell';
import { loadPlan, parsePlanText } from '../../../src/plan/load';
import { validatePlan } from '../../../src/plan/validate';
import { blueGreenDeployment } from '../../../src/workflows';
import { FakeFleet } from '../../support/fake-fleet';
import { connectClient, uniqueId, withWorker, type TemporalHandles } from '../../support/temporal';
import { tempDir } from '../../support/cli';

const here = fileURLToPath(new URL('../../support/plans/', import.meta.url));
const goodDir = path.join(here, 'good');
const fullPlan = parsePlanText(fs.readFileSync(path.join(goodDir, 'full.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
const SHELLS = ['/bin/sh', '/bin/bash'].filter((s) => fs.existsSync(s));

const dir = tempDir('templates');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Prints each argument it gets in brackets: what the command really received, word by word.
const REC = 'rec() { printf "[%s]" "$@"; echo; }; ';
function runIn(shell: string, command: string, env: Record<string, string> = {}): string {
  return execFileSync(shell, ['-c', REC + command], { env: { PATH: process.env.PATH ?? '', ...env } }).toString();
}

function validateInstall(install: string) {
  return validatePlan({ ...fullPlan, commands: { ...fullPlan.commands, install } });
}

function renderError(template: string): string | undefined {
  try {
    renderCommand(template, { release: 'v2.4.1' });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('templates written as a shell user writes them', () => {
  // template → what the command receives for release v2.4.1-rc_1
  const cases: [string, string][] = [
    ['rec install {release}', '[install][v2.4.1-rc_1]'],
    ['rec install "{release}"', '[install][v2.4.1-rc_1]'],
    ["rec install '{release}'", '[install][v2.4.1-rc_1]'],
    ['rec "--to={release}" --dir=/srv/{release}', '[--to=v2.4.1-rc_1][--dir=/srv/v2.4.1-rc_1]'],
    ['sh -c \'rec() { printf "[%s]" "$@"; echo; }; rec install {release}\'', '[install][v2.4.1-rc_1]'],
    ['sh -c "rec() { printf \'[%s]\' \\"\\$@\\"; echo; }; rec install \'{release}\'"', '[install][v2.4.1-rc_1]'],
    ['{ rec a; rec "{release}"; }', '[a]\n[v2.4.1-rc_1]'],
    ["echo 'x {release} y' | awk '{print $2}'", 'v2.4.1-rc_1'],
    ['rec {{release}} {release}', '[{release}][v2.4.1-rc_1]'],
  ];

  it.each(cases)('%s validates, and each shell passes the release as its author meant', (template, received) => {
    expect(validateInstall(template).ok).toBe(true);
    const rendered = renderCommand(template, { release: 'v2.4.1-rc_1' });
    for (const shell of SHELLS) expect(runIn(shell, rendered).trim(), shell).toBe(received);
  });

  it('the reported plan: "$HOME/bin/app-ctl" install "{release}" validates and installs the release', () => {
    const template = '"$HOME/bin/app-ctl" install "{release}"';
    expect(validateInstall(template).ok).toBe(true);
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, 'bin'), { recursive: true });
    const ctl = path.join(home, 'bin', 'app-ctl');
    fs.writeFileSync(ctl, '#!/bin/sh\nprintf "[%s]" "$@"\n', { mode: 0o755 });
    for (const shell of SHELLS) {
      expect(runIn(shell, renderCommand(template, { release: 'v2.4.1' }), { HOME: home })).toBe('[install][v2.4.1]');
    }
  });

  it('every release the plan allows is one literal word in every quoting (all of its characters, at both ends)', () => {
    const releases = ['v2', '2.5.0-rc.1', 'a_b', 'X-._-', 'z'.repeat(64), '0..', 'v-1-'];
    const templates = [
      'rec {release}',
      'rec "{release}"',
      "rec '{release}'",
      'sh -c \'rec() { printf "[%s]" "$@"; echo; }; rec {release}\'',
    ];
    for (const release of releases) {
      expect(validatePlan({ ...fullPlan, release }).ok, release).toBe(true);
      for (const t of templates)
        for (const shell of SHELLS) expect(runIn(shell, renderCommand(t, { release })).trim()).toBe(`[${release}]`);
    }
  });

  it('inside quotes only plain words are substituted: a value that quoting could misread is refused (defence in depth)', () => {
    for (const value of ['$(id)', '`id`', 'a"b', "a'b", 'a b', '*', '-rf', '~root', 'a\\b', '!x', '']) {
      expect(() => renderCommand('rec "{release}"', { release: value }), value).toThrow(/inside double quotes \(remove the quotes/);
      expect(() => renderCommand("rec '{release}'", { release: value }), value).toThrow(/inside single quotes/);
      // Unquoted, the renderer quotes it itself, so even these arrive as one literal word.
      expect(runIn('/bin/sh', renderCommand('rec {release}', { release: value })).trim()).toBe(`[${value}]`);
    }
  });
});

describe('validation runs exactly what the renderer runs', () => {
  const templates = [
    '/opt/app/bin/deploy install {release}',
    '"$HOME/bin/app-ctl" install "{release}"',
    "deploy '{release}' | awk '{print $1}'",
    "deploy {release} | awk '{print}'",
    "deploy {release} | awk '{if (NF) {n++}} END {print n}'",
    "deploy {release} | awk '{{if (NF) {{n++}}}} END {{print n}}'",
    "deploy {release} | awk '{if (NF) {n++} } END {print n}'",
    'deploy ${release}',
    'deploy ${{HOME}} {release}',
    'deploy "{release}',
    'deploy {relase}',
    'deploy {password} {release}',
  ];

  it.each(templates)('%s: valid plan if and only if it renders, with the same explanation', (template) => {
    const v = validateInstall(template);
    const refused = renderError(template);
    expect(v.ok).toBe(refused === undefined);
    if (!v.ok) {
      expect(v.issues).toHaveLength(1);
      expect(v.issues[0]?.path).toBe('plan.commands.install');
      expect(refused).toContain(`expected ${v.issues[0]?.expected}`);
    }
  });
});

describe('the good plans', () => {
  const good = fs.readdirSync(goodDir).filter((f) => /\.(ya?ml|json)$/.test(f));

  it.each(good)('%s validates, and every command in it renders', async (name) => {
    const plan = await loadPlan(path.join(goodDir, name));
    for (const [which, template] of Object.entries(plan.commands)) {
      if (template) expect(() => renderCommand(template, which === 'currentRelease' ? {} : { release: plan.release }), which).not.toThrow();
    }
  });
});

describe('a run with the natural template, on the in-memory fleet', () => {
  let temporal: TemporalHandles;
  beforeAll(async () => {
    temporal = await connectClient();
  });
  afterAll(async () => {
    await temporal?.close();
  });

  it('install "{release}" deploys the release instead of failing after green was drained', async () => {
    const fleet = new FakeFleet(['green-1', 'green-2', 'blue-1', 'blue-2'], 'v1');
    const taskQueue = uniqueId('templates');
    const plan = fleet.plan({
      commands: { install: '"$HOME/bin/app-ctl" install "{release}"', currentRelease: '"$HOME/bin/app-ctl" current' },
    });
    const result = await withWorker(taskQueue, createActivities(fleet.deps()), () =>
      temporal.client.workflow.execute(blueGreenDeployment, { taskQueue, workflowId: uniqueId('quoted'), args: [plan] }),
    );
    expect(result.outcome).toBe('succeeded');
    expect([...fleet.releases.values()]).toEqual(['v2', 'v2', 'v2', 'v2']);
  });
});
