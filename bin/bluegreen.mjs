#!/usr/bin/env node
// The `bluegreen` command: the compiled CLI (dist/cli.js, from `npm run build`). A clone that was
// never built falls back to the TypeScript sources through tsx, which costs about a second a call.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli.js', import.meta.url);
let main;
if (existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv);
