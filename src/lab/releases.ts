// The sample app's releases as artifacts in the lab's store, and the host script in <lab>/bin.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { labPaths, repoRoot } from './layout';

export const RELEASES = {
  v1: 'ok',
  v2: 'ok', // works on the v1 schema
  v3: 'needs-migration', // unhealthy and cannot write until `lab-host migrate` has run
  'bad-health': 'bad-health',
  'bad-smoke': 'bad-smoke',
  'slow-start': 'slow-start', // /health answers 503 for about 6 s after start
  // Healthy and passes smoke, but answers 500 to every fifth other request (before any write): only
  // real traffic shows it, which is what a bake is for.
  'bad-traffic': 'bad-traffic',
} as const;
export type ReleaseName = keyof typeof RELEASES;

const hostSrc = path.join(path.dirname(fileURLToPath(import.meta.url)), 'host');

export interface LabJson {
  labDir: string;
  artifactsDir: string;
  dbPath: string;
  /** Absolute path of the repo's better-sqlite3: the hosts have no node_modules of their own. */
  betterSqlite3: string;
}

export function writeLabJson(dir: string): LabJson {
  const p = labPaths(dir);
  const pkg = createRequire(path.join(repoRoot, 'package.json')).resolve('better-sqlite3/package.json');
  const json: LabJson = { labDir: dir, artifactsDir: p.artifacts, dbPath: p.db, betterSqlite3: path.dirname(pkg) };
  fs.writeFileSync(p.labJson, JSON.stringify(json, null, 2));
  return json;
}

export function writeArtifacts(dir: string): void {
  const p = labPaths(dir);
  for (const [release, behavior] of Object.entries(RELEASES)) {
    const d = path.join(p.artifacts, release);
    fs.mkdirSync(d, { recursive: true });
    fs.copyFileSync(path.join(hostSrc, 'app.mjs'), path.join(d, 'app.mjs'));
    fs.copyFileSync(path.join(hostSrc, 'db.mjs'), path.join(d, 'db.mjs'));
    fs.writeFileSync(path.join(d, 'release.json'), JSON.stringify({ release, behavior }) + '\n');
  }
}

/** <lab>/bin/lab-host: a shell wrapper naming this node by absolute path (SSH sessions get a bare PATH). */
export function writeHostScript(dir: string): string {
  const p = labPaths(dir);
  fs.mkdirSync(p.bin, { recursive: true });
  fs.copyFileSync(path.join(hostSrc, 'lab-host.mjs'), path.join(p.bin, 'lab-host.mjs'));
  fs.copyFileSync(path.join(hostSrc, 'db.mjs'), path.join(p.bin, 'db.mjs'));
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // `current` is answered by the shell (a readlink, as on most real hosts): starting Node for it on
  // 50 hosts at once would make the lab, not the deployment, what preflight measures.
  const script = [
    '#!/bin/sh',
    'if [ "$#" -eq 1 ] && [ "$1" = current ]; then',
    '  target=$(readlink "$BG_HOST_ROOT/current" 2>/dev/null) || { echo "lab-host: no current release" >&2; exit 1; }',
    '  basename "$target"',
    '  exit 0',
    'fi',
    `exec ${q(process.execPath)} ${q(path.join(p.bin, 'lab-host.mjs'))} "$@"`,
    '',
  ].join('\n');
  fs.writeFileSync(p.hostScript, script, { mode: 0o755 });
  return p.hostScript;
}
