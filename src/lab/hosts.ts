// Reading a lab host's filesystem from the outside (tests prove "no host restarted twice").
import fs from 'node:fs';
import path from 'node:path';
import { defaultLabDir, hostPaths, labPaths } from './layout';

function rootOf(dir: string, name: string): string {
  const root = path.join(labPaths(path.resolve(dir)).hosts, name);
  if (!fs.existsSync(hostPaths(root).hostJson)) throw new Error(`no lab host "${name}" in ${dir}`);
  return root;
}

export function hostCurrentRelease(name: string, dir = defaultLabDir()): string | null {
  try {
    return path.basename(fs.readlinkSync(hostPaths(rootOf(dir, name)).current));
  } catch {
    return null;
  }
}

export interface Restart {
  at: string;
  release: string;
}

/** Every start of the host's app, oldest first (lab up's initial v1 start included). */
export function hostRestarts(name: string, dir = defaultLabDir()): Restart[] {
  let text: string;
  try {
    text = fs.readFileSync(hostPaths(rootOf(dir, name)).restarts, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [at = '', release = ''] = l.split(' ');
      return { at, release };
    });
}

export function hostReleases(name: string, dir = defaultLabDir()): string[] {
  return fs
    .readdirSync(path.join(rootOf(dir, name), 'releases'))
    .filter((d) => !d.startsWith('.'))
    .sort();
}
