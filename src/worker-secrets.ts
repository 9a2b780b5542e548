// Where the worker's secrets are: read from the environment, checked at once. Kept apart from the
// SSH client so that the worker (and `plan check`) can name a missing variable before ssh2 loads.
import { readFileSync } from 'node:fs';

export interface WorkerSecrets {
  sshKeyPath: string;
  knownHostsPath: string;
  /** Passphrase of an encrypted private key (BG_SSH_KEY_PASSPHRASE or the file BG_SSH_KEY_PASSPHRASE_FILE). */
  sshKeyPassphrase?: string;
}

export function secretsFromEnv(env = process.env): WorkerSecrets {
  const sshKeyPath = env.BG_SSH_KEY;
  const knownHostsPath = env.BG_KNOWN_HOSTS;
  if (!sshKeyPath) throw new Error('BG_SSH_KEY is not set: the path of the SSH private key the worker logs in with');
  if (!knownHostsPath) throw new Error("BG_KNOWN_HOSTS is not set: the known_hosts file with the hosts' pinned keys");
  if (env.BG_SSH_KEY_PASSPHRASE && env.BG_SSH_KEY_PASSPHRASE_FILE)
    throw new Error('BG_SSH_KEY_PASSPHRASE and BG_SSH_KEY_PASSPHRASE_FILE are both set: set one');
  let sshKeyPassphrase = env.BG_SSH_KEY_PASSPHRASE || undefined;
  if (env.BG_SSH_KEY_PASSPHRASE_FILE) {
    try {
      sshKeyPassphrase = readFileSync(env.BG_SSH_KEY_PASSPHRASE_FILE, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(
        `BG_SSH_KEY_PASSPHRASE_FILE=${env.BG_SSH_KEY_PASSPHRASE_FILE}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  return { sshKeyPath, knownHostsPath, sshKeyPassphrase };
}
