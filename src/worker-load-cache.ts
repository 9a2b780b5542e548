// What Node works out anew at every worker start for the npm packages it loads: where each
// `require` leads, and V8's compiled code for each file. `npm run build` writes both down once
// (dist/worker-load-cache.bin and .json); the worker reads them at start (DESIGN.md, "Worker
// start-up"). Of the main thread's start, resolving the SDK's 1,400 requires took about 0.13 s and
// compiling its 500 files about 0.18 s. Node 20 caches neither across runs (22 has a compile cache).
//
// Nothing stale is ever used:
// - A file is compiled from the cache only when its content is the content the cache was made from
//   (SHA-1). V8's own check compares lengths only and would run old code for an edit of the same
//   length.
// - Resolutions hold only for the node_modules tree they were made in: npm's record of that tree
//   (node_modules/.package-lock.json, rewritten by every install) must be the same file. Without
//   one (another package manager) Node resolves.
// - Another Node, V8 or platform, or V8 refusing the data, means Node does its own work.
// So the cache only ever saves time; what runs is the files on disk.
import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/**
 * What the worker loads from npm before it polls, and right after (the warm-up's client, ssh2); and
 * what its workflow thread loads (that thread's own file refuses to load outside a thread).
 */
export const WORKER_MODULES = [
  '@temporalio/worker',
  '@temporalio/worker/lib/workflow/threaded-vm.js',
  '@temporalio/activity',
  '@temporalio/client',
  'ssh2',
  '@temporalio/worker/lib/workflow/reusable-vm.js',
  '@temporalio/worker/lib/workflow/vm.js',
  '@temporalio/worker/lib/workflow/bun.js',
  '@temporalio/worker/lib/workflow/patch-activation-callback.js',
] as const;

/**
 * Paths are within node_modules (`ssh2/lib/client.js`), so the cache fits wherever the tree is: this
 * repository, a container that copied it, a project whose npm hoisted the packages. A global install
 * nests them one level deeper (`bluegreen/node_modules/ssh2/...`), and no key fits.
 */
interface CacheIndex {
  runtime: string;
  /** SHA-1 of npm's record of the tree the resolutions were made in; null: none, or no record. */
  tree: string | null;
  files: Record<string, { at: number; length: number; sha1: string }>;
  /** `${from}\0${request}` → the file it resolved to, for requires from one package file to another. */
  resolved: Record<string, string>;
}

/** Its file beside the built worker (and `.json` beside that): the worker's two threads read it. */
export const LOAD_CACHE_FILE = 'worker-load-cache.bin';

export interface LoadCacheUse {
  /** Files compiled from the cache. */
  used: number;
  /** Files whose content changed since the build, or whose data V8 refused: compiled as usual. */
  stale: number;
  /** Requires answered from the cache (none when the node_modules tree is not the one it was made in). */
  resolved: number;
}

/** For BG_WORKER_TIMING's lines, one per thread. */
export const describeLoadCacheUse = (use: LoadCacheUse) =>
  `load cache: ${use.used} files compiled from it, ${use.stale} stale; ${use.resolved} requires resolved from it`;

/** Node's own, undeclared in its typings: the loader resolves with _resolveFilename and compiles with _compile. */
type CjsModule = InstanceType<typeof Module> & { filename: string; exports: unknown; require(id: string): unknown };
type ModuleStatics = typeof Module & {
  prototype: { _compile(this: CjsModule, content: string, filename: string, format?: string): unknown };
  _resolveFilename(request: string, parent: CjsModule | undefined, isMain: boolean, options?: object): string;
  _resolveLookupPaths(request: string, parent: CjsModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
};
const CjsModule = Module as ModuleStatics;

const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
/** Where a file's node_modules tree starts (through its first node_modules/), or -1 outside one. */
const treeEnd = (filename: string) => {
  const at = filename.indexOf(NODE_MODULES);
  return at < 0 ? -1 : at + NODE_MODULES.length;
};
const runtime = () => `${process.version} v8 ${process.versions.v8} ${process.platform}-${process.arch}`;
const sha1 = (content: string | Buffer) => crypto.hash('sha1', content);

/** npm's record of a node_modules tree (rewritten by every install), as a hash; null without one. */
function treeHash(tree: string): string | null {
  try {
    return sha1(readFileSync(path.join(tree, '.package-lock.json')));
  } catch {
    return null;
  }
}

/**
 * Debuggers, policies and source maps need Node's own compile (breakpoints, integrity checks, maps
 * read as files compile); export conditions and symlink options change what a require resolves to.
 */
function nodeMustLoad(env: NodeJS.ProcessEnv): boolean {
  const options = [...process.execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  return (
    env.BG_LOAD_CACHE === '0' ||
    options.some((a) => /^(--(inspect|debug|experimental-policy|enable-source-maps|conditions|preserve-symlinks)|-C)/.test(a))
  );
}

/**
 * From now on, resolves and compiles what the cache at `cachePath` holds from it. Returns the running
 * counts, or undefined when it does not apply (no cache, another Node, BG_LOAD_CACHE=0, a debugger).
 */
export function useLoadCache(cachePath: string, env = process.env): LoadCacheUse | undefined {
  if (nodeMustLoad(env)) return undefined;
  let index: CacheIndex;
  let data: Buffer;
  try {
    index = JSON.parse(readFileSync(`${cachePath}.json`, 'utf8')) as CacheIndex;
    data = readFileSync(cachePath);
  } catch {
    return undefined; // not built (running from source) or unreadable: Node loads as usual
  }
  if (index.runtime !== runtime()) return undefined;
  const use: LoadCacheUse = { used: 0, stale: 0, resolved: 0 };
  const trusted = new Map<string, boolean>();
  hookResolve((tree, from, request) => {
    let ok = trusted.get(tree);
    if (ok === undefined) trusted.set(tree, (ok = index.tree !== null && treeHash(tree) === index.tree));
    const to = ok ? index.resolved[`${from}\0${request}`] : undefined;
    if (to === undefined) return { resolved: () => {} };
    use.resolved++;
    return { to };
  });
  hookCompile((file, content) => {
    const entry = index.files[file];
    if (!entry) return undefined;
    if (entry.sha1 !== sha1(content)) {
      use.stale++;
      return undefined;
    }
    return {
      cachedData: data.subarray(entry.at, entry.at + entry.length),
      compiled: (script) => {
        if (script.cachedDataRejected) use.stale++;
        else use.used++;
      },
    };
  });
  return use;
}

/** Loads `modules` in this (fresh) process and writes down how Node resolved and V8 compiled their files. */
export function writeLoadCache(
  cachePath: string,
  modules: readonly string[] = WORKER_MODULES,
): { files: number; resolved: number; bytes: number } {
  const index: CacheIndex = { runtime: runtime(), tree: null, files: {}, resolved: {} };
  const trees = new Set<string>();
  hookResolve((tree, from, request) => ({
    resolved: (to) => {
      trees.add(tree);
      index.resolved[`${from}\0${request}`] = to;
    },
  }));
  const scripts: { file: string; content: string; script: vm.Script }[] = [];
  hookCompile((file, content) => ({ compiled: (script) => scripts.push({ file, content, script }) }));
  const require = createRequire(import.meta.url);
  for (const m of modules) require(m);
  // One tree, checked as a whole at use: resolutions spanning two could not be.
  const [tree, ...others] = trees;
  if (tree && !others.length) index.tree = treeHash(tree);
  if (index.tree === null) index.resolved = {};
  // Made after the modules ran, so it holds the functions their loading called, not only the top level.
  const chunks: Buffer[] = [];
  let at = 0;
  for (const { file, content, script } of scripts) {
    const cached = script.createCachedData();
    index.files[file] = { at, length: cached.length, sha1: sha1(content) };
    chunks.push(cached);
    at += cached.length;
  }
  writeFileSync(cachePath, Buffer.concat(chunks));
  writeFileSync(`${cachePath}.json`, JSON.stringify(index));
  return { files: scripts.length, resolved: Object.keys(index.resolved).length, bytes: at };
}

/**
 * Requires from a file in node_modules: `plan` gives the file (within the same tree) to return, or
 * asks to hear where Node's own resolution led. Builtins, requires with options and requires from
 * outside node_modules are Node's.
 */
function hookResolve(plan: (tree: string, from: string, request: string) => { to: string } | { resolved(to: string): void }): void {
  const original = CjsModule._resolveFilename;
  CjsModule._resolveFilename = function (request, parent, isMain, options) {
    const end = options || !parent?.filename ? -1 : treeEnd(parent.filename);
    if (end < 0) return original.call(this, request, parent, isMain, options);
    const tree = parent!.filename.slice(0, end);
    const p = plan(tree, parent!.filename.slice(end), request);
    if ('to' in p) return tree + p.to;
    const filename = original.call(this, request, parent, isMain, options);
    if (filename.startsWith(tree)) p.resolved(filename.slice(end));
    return filename;
  };
}

interface CompilePlan {
  cachedData?: Buffer;
  compiled(script: vm.Script): void;
}

/** CommonJS files in node_modules go through vm.Script when `plan` says so; all others as Node does. */
function hookCompile(plan: (file: string, content: string) => CompilePlan | undefined): void {
  const original = CjsModule.prototype._compile;
  CjsModule.prototype._compile = function (content, filename, format) {
    const end = format === 'module' ? -1 : treeEnd(filename);
    const p = end < 0 ? undefined : plan(filename.slice(end), content);
    if (!p) return original.call(this, content, filename, format);
    const script = new vm.Script(CjsModule.wrap(content), {
      filename,
      cachedData: p.cachedData,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    p.compiled(script);
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return Reflect.apply(wrapper, this.exports, [this.exports, requireFor(this), this, filename, path.dirname(filename)]);
  };
}

/** The `require` Node hands a CommonJS module (its makeRequireFunction). */
function requireFor(mod: CjsModule) {
  const require = (id: string) => mod.require(id);
  const resolve = (request: string, options?: { paths?: string[] }) => CjsModule._resolveFilename(request, mod, false, options);
  resolve.paths = (request: string) => CjsModule._resolveLookupPaths(request, mod);
  return Object.assign(require, { resolve, main: process.mainModule, extensions: CjsModule._extensions, cache: CjsModule._cache });
}
