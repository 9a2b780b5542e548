// Parts of Temporal's SDK that a worker with a prebuilt bundle does not need before it polls, left
// unloaded until first used (DESIGN.md, "Worker start-up"). `@temporalio/worker` requires them at
// load: its bundler (webpack's loader, memfs, unionfs: only for bundling from source), and the whole
// of `@temporalio/client`, of which its connection reads only the service constructors and one
// symbol before it polls. The client loads for real right after the worker polls (the warm-up run
// uses it) or at the first activity, whichever comes first.
//
// Each is seeded into Node's module cache as a stand-in: any use of it loads the real module, in the
// cache from then on, and answers from it; the exports listed as early are served from the small
// file that defines them, the same objects the real module exports. A module already loaded is left
// alone, so this only ever changes when a module loads, never what it is.
import { createRequire, Module } from 'node:module';

const require = createRequire(import.meta.url);

export interface Deferral {
  /** As the SDK requires it (one copy in node_modules, so the same file). */
  module: string;
  /** Exports the SDK reads before it polls, each from the file that defines it (re-exported as is). */
  early?: { from: string; names: readonly string[] };
}

export const SDK_DEFERRALS: readonly Deferral[] = [
  { module: '@temporalio/worker/lib/workflow/bundler' },
  {
    module: '@temporalio/client',
    early: {
      from: '@temporalio/client/lib/types',
      names: ['WorkflowService', 'OperatorService', 'HealthService', 'TestService', 'InternalConnectionLikeSymbol'],
    },
  },
];

/** Node's own (not in its typings): the module cache's entries are Module instances. */
type CachedModule = InstanceType<typeof Module> & { filename: string; loaded: boolean; exports: unknown };

/**
 * Seeds a stand-in for each module not loaded yet; returns the modules it deferred. Call before
 * anything requires them. All are TypeScript's CommonJS (`__esModule`), which the stand-ins report
 * without loading: `import * as` of them then keeps the stand-in rather than copying every export.
 */
export function deferModules(deferrals: readonly Deferral[] = SDK_DEFERRALS): string[] {
  const deferred: string[] = [];
  for (const d of deferrals) {
    const file = require.resolve(d.module);
    if (require.cache[file]) continue;
    let real: Record<string | symbol, unknown> | undefined;
    const load = () => {
      if (!real) {
        delete require.cache[file];
        real = require(file) as Record<string | symbol, unknown>;
      }
      return real;
    };
    const early = d.early && { file: require.resolve(d.early.from), names: new Set<string | symbol>(d.early.names) };
    const standIn = new Proxy<Record<string | symbol, unknown>>(
      {},
      {
        get: (_, name) => {
          if (name === '__esModule') return true;
          if (!real && early?.names.has(name)) return (require(early.file) as Record<string | symbol, unknown>)[name];
          return load()[name];
        },
        has: (_, name) => name in load(),
        ownKeys: () => Reflect.ownKeys(load()),
        // A proxy may not report a property its (empty) target lacks as non-configurable.
        getOwnPropertyDescriptor: (_, name) => {
          const desc = Reflect.getOwnPropertyDescriptor(load(), name);
          return desc && { ...desc, configurable: true };
        },
      },
    );
    const entry = new Module(file) as CachedModule;
    entry.filename = file;
    entry.loaded = true;
    entry.exports = standIn;
    require.cache[file] = entry;
    deferred.push(d.module);
  }
  return deferred;
}
