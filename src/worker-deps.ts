// The worker's real dependencies: ssh2 with pinned host keys, the plan's LB (HAProxy's Runtime API,
// or nginx over SSH), HTTP checks, webhooks. The worker loads this module with a dynamic import
// once Worker.create has begun, so ssh2 and the adapters load while it registers with Temporal
// (DESIGN.md, "Worker start-up"); `plan check` loads it without Temporal's worker at all.
import { readFileSync } from 'node:fs';
import { createActivities } from './activities';
import { lbFromConfig } from './adapters/load-balancer';
import { checkHealth, smokeSession, smokeTest } from './adapters/http/checks';
import { knownHostsFile, loadKnownHosts } from './adapters/ssh/known-hosts';
import { createSshClient } from './adapters/ssh/client';
import { webhooksFromEnv } from './adapters/http/webhooks';
import type { ActivityDeps } from './activities/deps';
import type { WorkerSecrets } from './worker-secrets';

/** Parses the key and known_hosts now: a bad one fails the worker's start, not its first deployment. */
export async function realDeps(secrets: WorkerSecrets): Promise<{ deps: ActivityDeps; close(): void }> {
  const knownHosts = await loadKnownHosts(secrets.knownHostsPath);
  // Lines the parser could not use would otherwise go unnoticed until a host is refused.
  for (const w of knownHosts.warnings) console.warn(`worker: ${secrets.knownHostsPath}: ${w}`);
  const ssh = createSshClient({
    privateKey: readFileSync(secrets.sshKeyPath),
    passphrase: secrets.sshKeyPassphrase,
    knownHosts: knownHostsFile(secrets.knownHostsPath, knownHosts, (w) => console.warn(`worker: ${w}`)),
  });
  return {
    // Webhook URLs are read from the environment (or the file it names) when a run notifies, not here.
    deps: {
      ssh,
      lb: (config) => lbFromConfig(config, { ssh }),
      http: { checkHealth, smokeTest, smokeSession },
      webhooks: webhooksFromEnv(process.env),
    },
    close: () => ssh.close(),
  };
}

/** The activities over the real dependencies, and how to close them (the SSH connections). */
export async function realActivities(secrets: WorkerSecrets): Promise<{ activities: ReturnType<typeof createActivities>; close(): void }> {
  const { deps, close } = await realDeps(secrets);
  return { activities: createActivities(deps), close };
}
