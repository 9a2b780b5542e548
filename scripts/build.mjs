// `npm run build`: compiled JavaScript for the worker and the CLI (esbuild, npm packages left
// external), and the workflow bundle prebuilt once (webpack runs here, never at worker start).
// Plain Node on purpose: the build must not need tsx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const t0 = Date.now();
// Built aside, then each file renamed into dist/: a worker starting (or a second test run building)
// meanwhile sees the old files or the new ones, never none.
const staging = path.join(dist, `.build-${process.pid}`);
fs.mkdirSync(staging, { recursive: true });

await build({
  entryPoints: {
    worker: 'src/worker.ts',
    cli: 'src/cli/main.ts',
    'worker-load-cache': 'src/worker-load-cache.ts',
    'workflow-thread': 'src/workflow-thread.ts',
  },
  absWorkingDir: root,
  outdir: staging,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  // Dynamic imports (plan check's SSH and worker code) become chunks loaded on use, so a plain
  // `bluegreen status` does not load Temporal's native worker or ssh2.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
});

const quiet = { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} };
const { code } = await bundleWorkflowCode({ workflowsPath: path.join(root, 'src/workflows/index.ts'), logger: quiet });
fs.writeFileSync(path.join(staging, 'workflow-bundle.js'), withoutSourcesContent(code));
// How Node resolves and V8 compiles the npm packages the worker loads, by a Node of its own.
execFileSync(process.execPath, [path.join(root, 'scripts/write-load-cache.mjs'), staging], { stdio: 'inherit' });
fs.rmSync(path.join(dist, 'chunks'), { recursive: true, force: true });
for (const f of fs.readdirSync(staging)) fs.renameSync(path.join(staging, f), path.join(dist, f));
fs.rmSync(staging, { recursive: true, force: true });
console.log(`build: dist/worker.js, dist/cli.js, dist/workflow-bundle.js, dist/worker-load-cache.bin in ${Date.now() - t0} ms`);

/**
 * The SDK requires the bundle's inline source map (it maps workflow stack traces), but only its
 * mappings: the embedded copies of every source file were half the bundle, and every worker start
 * decoded, parsed and compiled them in the main thread and again in the workflow thread.
 */
function withoutSourcesContent(bundle) {
  const at = bundle.lastIndexOf('//# sourceMappingURL=data:');
  const b64 = bundle.indexOf('base64,', at);
  if (at < 0 || b64 < 0) throw new Error('workflow bundle has no inline source map: the SDK would refuse it');
  const map = JSON.parse(Buffer.from(bundle.slice(b64 + 'base64,'.length).trim(), 'base64').toString('utf8'));
  delete map.sourcesContent;
  return `${bundle.slice(0, b64 + 'base64,'.length)}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}
