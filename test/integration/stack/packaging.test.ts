// Packaging: the npm package installs and runs without a build step or tsx, its compiled worker
// joins the stack's server; docker-compose.yml mirrors `npm run stack` (versions, search attributes,
// dynamic config, secrets) and passes a Compose parser; the Dockerfile ships the compiled worker
// as a non-root user. (No Docker engine here: the image itself is not built in CI.)
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { packageRoot } from '../../../src/paths';
import { pgBinDir } from '../../../src/stack/postgres';
import { dynamicConfig, NUM_HISTORY_SHARDS, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../../src/stack/temporal-server';
import { SEARCH_ATTRIBUTE_DECLARATIONS } from '../../../src/workflows/search-attributes';
import { startWorkerProcess } from '../../support/worker-process';

const execFileAsync = promisify(execFile);
const read = (f: string) => fs.readFileSync(path.join(packageRoot, f), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  command?: string[] | string;
  volumes?: string[];
  secrets?: string[];
  read_only?: boolean;
  deploy?: { replicas?: number };
}

describe('docker-compose.yml mirrors npm run stack', () => {
  const compose = YAML.parse(read('docker-compose.yml')) as {
    services: Record<string, ComposeService>;
    secrets: Record<string, { file: string }>;
  };
  const s = compose.services;

  it('same parts and versions: PostgreSQL major, Temporal server, schema tool, Temporal Web, shards', () => {
    expect(Object.keys(s).sort()).toEqual(['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    const pgMajor = path.basename(path.dirname(pgBinDir()));
    expect(s.postgresql!.image).toBe(`postgres:${pgMajor}`);
    const server = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    expect(s.temporal!.image).toBe(`temporalio/server:${server}`);
    expect(s['temporal-schema']!.image).toMatch(new RegExp(`^temporalio/admin-tools:${server.replace(/\./g, '\\.')}-`));
    expect(s['temporal-setup']!.image).toBe(s['temporal-schema']!.image);
    expect(s['temporal-ui']!.image).toBe(`temporalio/ui:${TEMPORAL_UI_VERSION.replace(/^v/, '')}`);
    expect(s.temporal!.environment).toMatchObject({
      DB: 'postgres12',
      DBNAME: 'temporal',
      VISIBILITY_DBNAME: 'temporal_visibility',
      NUM_HISTORY_SHARDS: String(NUM_HISTORY_SHARDS),
    });
  });

  it("schema set up with the server's own tool and files, for both databases", () => {
    const cmd = String(s['temporal-schema']!.command);
    for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema -d']) expect(cmd).toContain(step);
    expect(cmd).toContain('temporal_visibility:visibility');
    expect(cmd).toContain('/etc/temporal/schema/postgresql/v12');
    expect(s['temporal-schema']!.environment?.SQL_PLUGIN).toBe('postgres12');
  });

  it('the same search attributes, all Keyword, and the same dynamic config', () => {
    const cmd = String(s['temporal-setup']!.command);
    const names = /for name in ([^;]+);/.exec(cmd)?.[1]?.trim().split(/\s+/);
    expect(names).toEqual(Object.keys(SEARCH_ATTRIBUTE_DECLARATIONS));
    expect(new Set(Object.values(SEARCH_ATTRIBUTE_DECLARATIONS))).toEqual(new Set(['Keyword']));
    expect(cmd).toContain('--type Keyword');
    expect(read('deploy/temporal/dynamicconfig.yaml')).toBe(dynamicConfig());
    expect(s.temporal!.volumes).toContain('./deploy/temporal/dynamicconfig.yaml:/etc/temporal/config/dynamicconfig/bluegreen.yaml:ro');
  });

  it('the worker: built here, several replicas, secrets mounted read-only, nothing secret in the image or the environment', () => {
    const w = s.worker!;
    expect(w.build).toBe('.');
    expect(w.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(w.secrets).toEqual(['bg_ssh_key', 'bg_known_hosts']);
    expect(w.environment).toMatchObject({
      BG_SSH_KEY: '/run/secrets/bg_ssh_key',
      BG_KNOWN_HOSTS: '/run/secrets/bg_known_hosts',
      BG_TASK_QUEUE: 'bluegreen',
    });
    expect(w.read_only).toBe(true);
    for (const v of w.volumes ?? []) expect(v, 'every mount of the worker is read-only').toMatch(/:ro$/);
    expect(Object.values(compose.secrets).map((x) => x.file)).toEqual(['./secrets/id_ed25519', './secrets/known_hosts']);
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['secrets', 'node_modules', 'dist']));
    expect(read('.gitignore').split('\n')).toEqual(expect.arrayContaining(['secrets/', '.env']));
  });

  it('passes a Compose parser (docker-compose config)', async () => {
    const found = await execFileAsync('sh', ['-c', 'command -v docker-compose']).then(
      (r) => r.stdout.trim(),
      () => '',
    );
    if (!found) {
      // CI installs Debian's docker-compose (.ci/run); elsewhere this check needs it too.
      expect(process.env.CI, 'docker-compose is missing: apt-get install docker-compose').not.toBe('true');
      console.log('docker-compose not installed: compose file not parsed');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-compose-'));
    try {
      // A copy with placeholder secrets, as an operator's checkout would have.
      fs.copyFileSync(path.join(packageRoot, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
      fs.mkdirSync(path.join(dir, 'deploy', 'temporal'), { recursive: true });
      fs.copyFileSync(path.join(packageRoot, 'deploy/temporal/dynamicconfig.yaml'), path.join(dir, 'deploy/temporal/dynamicconfig.yaml'));
      fs.mkdirSync(path.join(dir, 'secrets'));
      fs.writeFileSync(path.join(dir, 'secrets', 'id_ed25519'), '');
      fs.writeFileSync(path.join(dir, 'secrets', 'known_hosts'), '');
      const env = { ...process.env, POSTGRES_PASSWORD: 'placeholder' };
      await execFileAsync('docker-compose', ['config', '--quiet'], { cwd: dir, env });
      const rendered = YAML.parse((await execFileAsync('docker-compose', ['config'], { cwd: dir, env })).stdout);
      expect(rendered.services.postgresql.environment.POSTGRES_PASSWORD).toBe('placeholder');
      expect(rendered.services['temporal-schema'].command[0]).toContain('for db in temporal:temporal temporal_visibility:visibility');
      expect(rendered.services.worker.secrets.map((x: { source: string }) => x.source)).toEqual(['bg_ssh_key', 'bg_known_hosts']);
      // Without the password it refuses, naming it.
      const { POSTGRES_PASSWORD: _, ...noPassword } = env;
      const refused = await execFileAsync('docker-compose', ['config', '--quiet'], { cwd: dir, env: noPassword }).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
      expect(refused).toContain('set POSTGRES_PASSWORD in .env');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Dockerfile', () => {
  const stages = read('Dockerfile')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .join('\n')
    .split(/^FROM /m)
    .slice(1);
  const final = stages.at(-1)!;

  it('builds the compiled worker and CLI (npm run build), copies what exists, ships only production dependencies and their load cache', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/RUN npm ci/);
    expect(stages[0]).toMatch(/RUN npm run build && npm prune --omit=dev/);
    // The worker's load cache, written again for the pruned tree (its resolutions hold only for the tree they were made in).
    expect(stages[0]).toMatch(/npm prune --omit=dev[^\n]* && node scripts\/write-load-cache\.mjs$/m);
    expect(stages[0]).toMatch(/^COPY scripts\/build\.mjs scripts\/write-load-cache\.mjs scripts\/$/m);
    for (const m of stages[0]!.matchAll(/^COPY (\S+)/gm)) expect(fs.existsSync(path.join(packageRoot, m[1]!)), m[1]).toBe(true);
    for (const f of ['dist', 'bin', 'node_modules', 'package.json']) expect(final).toContain(`COPY --from=build /src/${f}`);
  });

  it('runs node dist/worker.js as the non-root node user, no tsx', () => {
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/^CMD \["node", "dist\/worker\.js"\]$/m);
    expect(final).not.toMatch(/tsx/);
    expect(final.indexOf('USER node')).toBeGreaterThan(final.lastIndexOf('RUN '));
    // No secret is ever copied in.
    expect(read('Dockerfile')).not.toMatch(/COPY .*(secrets|\.ssh|known_hosts|id_ed25519)/);
  });

  it('its dependency set has no tsx: the production tree of package.json', () => {
    const pkg = JSON.parse(read('package.json')) as {
      dependencies: Record<string, string>;
      files: string[];
      scripts: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(pkg.files).toEqual(['bin/', 'dist/']);
    expect(pkg.scripts.prepack).toBe('node scripts/build.mjs');
  });
});

describe('npm pack', () => {
  let tmp: string;
  let tarball: string;
  let prefix: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-pack-'));
    prefix = path.join(tmp, 'prefix');
    const t0 = Date.now();
    // prepack builds dist/ first (npm run build).
    await execFileAsync('npm', ['pack', packageRoot, '--pack-destination', tmp, '--loglevel=error'], { maxBuffer: 16 << 20 });
    tarball = path.join(
      tmp,
      fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'))!,
    );
    const t1 = Date.now();
    // A temp prefix: nothing is installed for the machine; the npm cache makes it quick after the first time.
    await execFileAsync(
      'npm',
      ['install', '-g', '--prefix', prefix, tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
      { maxBuffer: 16 << 20 },
    );
    console.log(`npm pack ${((t1 - t0) / 1000).toFixed(1)} s, npm install -g of the tarball ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  }, 900_000);
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the bin and the compiled dist/ only: no sources, no tests, no keys', async () => {
    const { stdout } = await execFileAsync('tar', ['tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'package/bin/bluegreen.mjs',
        'package/dist/cli.js',
        'package/dist/worker.js',
        'package/dist/workflow-bundle.js',
        'package/package.json',
      ]),
    );
    expect(files.filter((f) => !/^package\/(bin\/|dist\/|package\.json$|README\.md$|LICENSE)/.test(f))).toEqual([]);
  });

  it('`bluegreen` works after npm install -g of the tarball, without tsx', async () => {
    const bin = path.join(prefix, 'bin', 'bluegreen');
    const installed = path.join(prefix, 'lib', 'node_modules', 'bluegreen');
    expect(fs.existsSync(path.join(installed, 'node_modules', 'tsx'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'src'))).toBe(false);
    const help = await execFileAsync(bin, ['--help']);
    expect(help.stdout).toMatch(/Usage: bluegreen/);
    const valid = await execFileAsync(bin, ['plan', 'validate', path.join(packageRoot, 'test/support/plans/good/full.yaml')]);
    expect(valid.stdout).toMatch(/valid plan/);
    // It talks to the stack's server: history of an environment nobody deployed is "not found" (exit 3).
    const none = await execFileAsync(bin, ['history', 'nowhere', '--address', inject('temporalAddress')]).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    expect(none).toBe(3);
  });

  it("its compiled worker starts from the installed package and polls the stack's server", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'secrets-'));
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id_ed25519')]);
    fs.writeFileSync(path.join(dir, 'known_hosts'), '');
    const worker = await startWorkerProcess(
      {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        BG_TASK_QUEUE: `pack-${process.pid}`,
        BG_SSH_KEY: path.join(dir, 'id_ed25519'),
        BG_KNOWN_HOSTS: path.join(dir, 'known_hosts'),
      },
      path.join(prefix, 'lib', 'node_modules', 'bluegreen', 'dist', 'worker.js'),
    );
    try {
      expect(worker.output()).toContain('worker: task queue');
    } finally {
      await worker.kill();
    }
  });
});
