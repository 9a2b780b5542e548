// `lab down`: stop everything the lab started, by recorded PID, and wait until it is gone.
import fs from 'node:fs';
import path from 'node:path';
import { defaultLabDir, hostPaths, labPaths } from './layout';
import { descendants, freezeTrees, isAlive, readPidFile, stopPids } from './procs';
import { readState } from './state';

export interface LabDownResult {
  dir: string;
  stopped: number[];
}

/** PIDs the lab recorded: state.json plus every pid file under hosts/ (apps restarted by lab-host). */
export function recordedPids(dir: string): number[] {
  const p = labPaths(dir);
  const state = readState(dir);
  const pids = [
    state?.haproxyPid,
    readPidFile(p.haproxyPid),
    state?.nginxPid,
    readPidFile(p.nginxPid),
    state?.lbSshdPid,
    readPidFile(path.join(hostPaths(p.nginxDir).sshDir, 'sshd.pid')),
    ...Object.values(state?.sshdPids ?? {}),
  ];
  if (fs.existsSync(p.hosts))
    for (const name of fs.readdirSync(p.hosts)) {
      const hp = hostPaths(path.join(p.hosts, name));
      pids.push(readPidFile(hp.appPid), readPidFile(path.join(hp.sshDir, 'sshd.pid')));
    }
  // A recorded PID may have been reused by an unrelated process since: only take those whose
  // command line names this lab directory (all of ours do: config paths, app path).
  return [...new Set(pids.filter((x): x is number => isAlive(x)))].filter((pid) => belongsToLab(pid, dir));
}

function belongsToLab(pid: number, dir: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    // No /proc (macOS): trust the pid files, the lab wrote them.
    return !fs.existsSync('/proc/self');
  }
}

export async function labDown(dir = defaultLabDir()): Promise<LabDownResult> {
  dir = path.resolve(dir);
  const p = labPaths(dir);
  const roots = recordedPids(dir);
  // sshd's per-connection processes (and commands running in them) leave its process group, so
  // they are found as descendants, with every tree frozen first so that none forks past the snapshot.
  const stopped = await stopPids(freezeTrees(roots.filter(isAlive)));
  // Stragglers: an app started by a session that was itself being stopped.
  const late = recordedPids(dir);
  if (late.length) stopped.push(...(await stopPids([...late, ...descendants(late)])));
  for (const f of [p.haproxySocket, p.haproxyHiddenSocket, p.haproxyPid, p.nginxPid, p.state]) fs.rmSync(f, { force: true });
  if (fs.existsSync(p.hosts))
    for (const name of fs.readdirSync(p.hosts)) {
      const hp = hostPaths(path.join(p.hosts, name));
      fs.rmSync(hp.appPid, { force: true });
      fs.rmSync(path.join(hp.sshDir, 'sshd.pid'), { force: true });
    }
  return { dir, stopped };
}
