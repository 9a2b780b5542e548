// `node scripts/write-load-cache.mjs [dir]`: writes down how Node resolves and V8 compiles the npm
// packages the worker loads (src/worker-load-cache.ts), as dir/worker-load-cache.bin (default:
// dist/). `npm run build` runs it; the Dockerfile runs it again once `npm prune` has changed the
// node_modules tree, since resolutions hold only for the tree they were made in. It must run in a
// Node of its own: one that has loaded the packages already would see none of that work.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist'));
const { writeLoadCache } = await import(pathToFileURL(path.join(dir, 'worker-load-cache.js')).href);
const { files, resolved, bytes } = writeLoadCache(path.join(dir, 'worker-load-cache.bin'));
console.log(`build: load cache of ${files} files (${bytes} bytes of code) and ${resolved} resolutions`);
