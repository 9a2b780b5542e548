// The worker loads Temporal's SDK without the parts it needs only later or never (its bundler, the
// client's own files), and those load, as the same modules, on first use
// (src/worker-deferred-modules.ts). One process per test file: nothing here has loaded them before.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { deferModules } from '../../../src/worker-deferred-modules';

const require = createRequire(import.meta.url);
const inCache = (file: string) => require.cache[require.resolve(file)]?.loaded === true;

describe('modules deferred at worker start', () => {
  it('lets the SDK load without its bundler or the client, then loads them, the same modules, on first use', () => {
    expect(deferModules()).toEqual(['@temporalio/worker/lib/workflow/bundler', '@temporalio/client']);
    const sdk = require('@temporalio/worker') as typeof import('@temporalio/worker');
    expect(typeof sdk.Worker.create).toBe('function');
    // Neither the bundler's webpack setup nor the client's workflow client has run.
    expect(inCache('@temporalio/worker/lib/workflow/bundler/patch-module-cache')).toBe(false);
    expect(inCache('@temporalio/client/lib/workflow-client')).toBe(false);
    // What the SDK's connection reads before polling comes from the file that defines it.
    const client = require('@temporalio/client') as typeof import('@temporalio/client');
    const early = client.WorkflowService;
    expect(inCache('@temporalio/client/lib/workflow-client')).toBe(false);
    // Anything else loads the real module, which from then on is the module.
    expect(typeof client.Client).toBe('function');
    expect(inCache('@temporalio/client/lib/workflow-client')).toBe(true);
    const real = require('@temporalio/client') as typeof import('@temporalio/client');
    expect(real).not.toBe(client);
    expect(real.Client).toBe(client.Client);
    expect(real.WorkflowService).toBe(early);
    expect(Object.keys(client)).toEqual(Object.keys(real));
    expect(typeof sdk.bundleWorkflowCode).toBe('function');
    expect(inCache('@temporalio/worker/lib/workflow/bundler/patch-module-cache')).toBe(true);
  });

  it('leaves a module that is already loaded alone', () => {
    expect(deferModules()).toEqual([]);
  });
});
