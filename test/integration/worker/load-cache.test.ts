// The worker resolves and compiles the npm packages it loads at start as `npm run build` wrote down
// (src/worker-load-cache.ts), and never from a record that no longer fits: a file whose content
// changed, a node_modules tree npm has since changed, another Node. Each case runs in its own Node
// process: the cache hooks the module loader for the whole process.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { distDir } from '../../../src/paths';
import { uniqueId } from '../../support/temporal';
import { useWorkerProcesses } from '../../support/worker-process';

const workers = useWorkerProcesses('load-cache');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-load-cache-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// A tree of two packages, as npm leaves one: `sample` requires `dep`.
const tree = path.join(root, 'node_modules');
const sample = path.join(tree, 'sample', 'index.js');
const dep = path.join(tree, 'dep', 'index.js');
const cacheFile = path.join(root, 'dist', 'worker-load-cache.bin');
const loadCache = pathToFileURL(path.join(distDir, 'worker-load-cache.js')).href;

function writeTree(depBody = 'module.exports = "built";\n'): void {
  fs.mkdirSync(path.dirname(sample), { recursive: true });
  fs.mkdirSync(path.dirname(dep), { recursive: true });
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  fs.writeFileSync(sample, 'module.exports = { value: require("dep") };\n');
  fs.writeFileSync(path.join(tree, 'dep', 'package.json'), '{ "name": "dep", "version": "1.0.0" }\n');
  fs.writeFileSync(dep, depBody);
  fs.writeFileSync(path.join(tree, '.package-lock.json'), '{ "name": "sample-tree", "lockfileVersion": 3 }\n');
}

/** A fresh Node that imports the built load cache module, then runs `script`. */
function node(script: string, env: Record<string, string> = {}): string {
  const code = `const m = await import(${JSON.stringify(loadCache)});
const { createRequire } = await import('node:module');
const require = createRequire(import.meta.url);
${script}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
}
const write = () =>
  JSON.parse(node(`console.log(JSON.stringify(m.writeLoadCache(${JSON.stringify(cacheFile)}, [${JSON.stringify(sample)}])));`)) as {
    files: number;
    resolved: number;
  };
type Use = { used: number; stale: number; resolved: number };
function useAndLoad(env: Record<string, string> = {}): { use?: Use; value: unknown } {
  const out = node(
    `const use = m.useLoadCache(${JSON.stringify(cacheFile)});
const { value } = require(${JSON.stringify(sample)});
console.log(JSON.stringify({ use, value }));`,
    env,
  );
  return JSON.parse(out) as { use?: Use; value: unknown };
}

describe('the load cache', () => {
  beforeEach(() => writeTree());

  it('serves a built worker, on both its threads, the npm packages it loads at start, none of them stale', async () => {
    const worker = await workers.start({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      BG_TASK_QUEUE: uniqueId('load-cache'),
      BG_WORKER_TIMING: '1',
    });
    const use = (thread: string) => {
      const m = new RegExp(
        `${thread} \\(load cache: (\\d+) files compiled from it, (\\d+) stale; (\\d+) requires resolved from it\\)`,
      ).exec(worker.output());
      expect(m, worker.output()).not.toBeNull();
      return { used: Number(m![1]), stale: Number(m![2]), resolved: Number(m![3]) };
    };
    // The SDK, gRPC, protobufjs and rxjs are several hundred files, with more requires between them.
    const main = use('modules loaded');
    expect(main.used).toBeGreaterThan(300);
    expect(main.stale).toBe(0);
    expect(main.resolved).toBeGreaterThan(600);
    // The workflow thread loads the SDK's protobufs and common code again.
    const workflows = use('workflow thread loaded');
    expect(workflows.used).toBeGreaterThan(100);
    expect(workflows.stale).toBe(0);
    expect(workflows.resolved).toBeGreaterThan(100);
  });

  it('compiles a file, and resolves a require between packages, from the cache when nothing changed', () => {
    expect(write()).toMatchObject({ files: 2, resolved: 1 });
    expect(useAndLoad()).toEqual({ use: { used: 2, stale: 0, resolved: 1 }, value: 'built' });
  });

  it('compiles a file changed since the build from disk, even at the same length (which V8 alone would accept)', () => {
    write();
    fs.writeFileSync(dep, 'module.exports = "CHNGD";\n');
    expect(useAndLoad()).toEqual({ use: { used: 1, stale: 1, resolved: 1 }, value: 'CHNGD' });
  });

  it('compiles from disk when V8 refuses the cached data', () => {
    write();
    const data = fs.readFileSync(cacheFile);
    data.fill(0x5a);
    fs.writeFileSync(cacheFile, data);
    expect(useAndLoad()).toEqual({ use: { used: 0, stale: 2, resolved: 1 }, value: 'built' });
  });

  it('leaves resolving to Node once npm has changed the tree', () => {
    write();
    // What an upgrade of dep does: a new main file, and npm's record of the tree rewritten.
    fs.writeFileSync(path.join(tree, 'dep', 'package.json'), '{ "name": "dep", "version": "2.0.0", "main": "v2.js" }\n');
    fs.writeFileSync(path.join(tree, 'dep', 'v2.js'), 'module.exports = "v2";\n');
    fs.writeFileSync(path.join(tree, '.package-lock.json'), '{ "name": "sample-tree", "lockfileVersion": 3, "packages": {} }\n');
    expect(useAndLoad()).toEqual({ use: { used: 1, stale: 0, resolved: 0 }, value: 'v2' });
  });

  it('is not used when made by another Node, with BG_LOAD_CACHE=0, or when Node must compile (source maps)', () => {
    write();
    expect(useAndLoad({ BG_LOAD_CACHE: '0' })).toEqual({ value: 'built' });
    expect(useAndLoad({ NODE_OPTIONS: '--enable-source-maps' })).toEqual({ value: 'built' });
    const index = JSON.parse(fs.readFileSync(`${cacheFile}.json`, 'utf8')) as { runtime: string };
    fs.writeFileSync(`${cacheFile}.json`, JSON.stringify({ ...index, runtime: 'v18.0.0 v8 10.1 linux-x64' }));
    expect(useAndLoad()).toEqual({ value: 'built' });
  });
});
