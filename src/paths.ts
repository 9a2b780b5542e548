// Where the compiled artefacts live. Tests, the demo and the bench start the worker from dist/, as
// production does, so what they exercise is what ships.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: src/ and dist/ are both one level below it. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = path.join(packageRoot, 'dist');
export const compiledWorker = path.join(distDir, 'worker.js');
export const workflowBundlePath = path.join(distDir, 'workflow-bundle.js');
