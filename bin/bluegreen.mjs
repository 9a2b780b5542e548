#!/usr/bin/env node
// The `bluegreen` command. Runs the TypeScript sources through tsx's ESM loader, so a clone works
// without a build step (`npx bluegreen ...` or `node bin/bluegreen.mjs ...`).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
