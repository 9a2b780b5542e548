// The lab's record of what it started (state.json): what `down` stops and `status` reports.
import fs from 'node:fs';
import { describeLab, labPaths, type Lab, type LbKind } from './layout';

export interface LabState {
  basePort: number;
  hostsPerCluster: number;
  startedAt: string;
  /** Who the hosts are logged into as (absent in a lab from before: the user who started it). */
  user?: string;
  /** The delay of each SSH login (0: none). */
  slowLoginMs?: number;
  /** Absent in a lab from before nginx: haproxy. */
  lb?: LbKind;
  haproxyPid?: number;
  nginxPid?: number;
  /** The nginx LB host's sshd. */
  lbSshdPid?: number;
  sshdPids: Record<string, number>;
  /** Hosts whose sshd was stopped on purpose by a fault (so status does not call the lab broken). */
  sshdStopped: string[];
}

export function readState(dir: string): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(labPaths(dir).state, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(dir: string, state: LabState): void {
  const file = labPaths(dir).state;
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export function updateState(dir: string, fn: (s: LabState) => void): LabState {
  const s = readState(dir);
  if (!s) throw new Error(`no lab is up in ${dir} (no state.json)`);
  fn(s);
  writeState(dir, s);
  return s;
}

/** The lab as recorded, with the user its hosts log in as. */
export function labOf(dir: string, state: LabState): Lab {
  return describeLab(dir, state.basePort, state.hostsPerCluster, state.user, state.lb ?? 'haproxy');
}
