// The built worker's workflow thread (dist/workflow-thread.js): Temporal's own thread file, loaded
// with the load cache the main thread uses (src/worker-load-cache.ts). The thread loads much of the
// SDK again and compiles the bundle; once the main thread's start was cut, the worker waited for it.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeLoadCacheUse, LOAD_CACHE_FILE, useLoadCache } from './worker-load-cache';
import { THREAD_ENTRY } from './worker-thread';

const cache = useLoadCache(path.join(path.dirname(fileURLToPath(import.meta.url)), LOAD_CACHE_FILE));
createRequire(import.meta.url)(THREAD_ENTRY);
if (cache && process.env.BG_WORKER_TIMING === '1') {
  console.error(`worker: start-up: workflow thread loaded (${describeLoadCacheUse(cache)})`);
}
