// The standalone Temporal Web (github.com/temporalio/ui-server/v2) in front of the stack's server.
import path from 'node:path';
import YAML from 'yaml';
import { isAlive, sleep, spawnDetached } from '../lab/procs';

export function uiConfig(opts: { frontend: string; port: number; namespace: string }): string {
  const config = {
    temporalGrpcAddress: opts.frontend,
    host: '127.0.0.1',
    port: opts.port,
    enableUi: true,
    defaultNamespace: opts.namespace,
    notifyOnNewVersion: false,
    refreshInterval: '0s',
    // Only the UI's own origin may call its API (the framework's default would allow any).
    cors: {
      cookieInsecure: true,
      unsafeAllowAllOrigins: false,
      allowOrigins: [`http://127.0.0.1:${opts.port}`, `http://localhost:${opts.port}`],
    },
    auth: { enabled: false },
  };
  return `# Written by bluegreen's stack (src/stack/ui.ts).\n${YAML.stringify(config)}`;
}

/** Starts `temporal-ui-server start` with <root>/config/<env>.yaml. Returns its PID. */
export function spawnUiServer(binary: string, root: string, env: string, logFile: string): number {
  return spawnDetached(binary, ['--root', root, '--config', 'config', '--env', env, 'start'], logFile);
}

export async function waitForUi(url: string, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid)) throw new Error(`temporal-ui-server (pid ${pid}) exited during start`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`Temporal Web at ${url} not answering after ${timeoutMs} ms`);
    await sleep(200);
  }
}

export const uiRoot = (stackDir: string) => path.join(stackDir, 'ui');
