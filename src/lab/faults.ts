// Fault injection: break one part of the lab on purpose, and undo it.
import fs from 'node:fs';
import path from 'node:path';
import { defaultLabDir, labPaths, type LabHost } from './layout';
import { childrenOf, isAlive, signal, stopPids, descendants, freezeTrees } from './procs';
import { startSshd } from './sshd';
import { labOf, readState, updateState } from './state';
import { runHostScript } from './host-script';

export const FAULTS = ['sshd', 'freeze', 'app', 'haproxy-api', 'lb-ssh'] as const;
export type FaultKind = (typeof FAULTS)[number];

function hostOf(dir: string, name: string): LabHost {
  const state = readState(dir);
  if (!state) throw new Error(`no lab is up in ${dir}`);
  const host = labOf(dir, state).hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host "${name}" in the lab`);
  return host;
}

function sshdPid(dir: string, name: string): number | undefined {
  return readState(dir)?.sshdPids[name];
}

/** Stops the host's sshd (the listener; open sessions end too): connections are refused. */
export async function stopSshd(dir: string, name: string): Promise<void> {
  hostOf(dir, name);
  const pid = sshdPid(dir, name);
  if (isAlive(pid)) await stopPids([pid, ...descendants([pid])]);
  updateState(dir, (s) => {
    delete s.sshdPids[name];
    if (!s.sshdStopped.includes(name)) s.sshdStopped.push(name);
  });
}

export async function startSshdAgain(dir: string, name: string): Promise<void> {
  const host = hostOf(dir, name);
  if (isAlive(sshdPid(dir, name))) return;
  const pid = await startSshd(host);
  updateState(dir, (s) => {
    s.sshdPids[name] = pid;
    s.sshdStopped = s.sshdStopped.filter((n) => n !== name);
  });
}

/**
 * SIGSTOP the host's sshd and every session it serves (as a frozen machine would be): the kernel
 * still completes TCP handshakes, nothing ever answers, and an open connection goes silent too.
 */
export function freezeHost(dir: string, name: string): void {
  hostOf(dir, name);
  const pid = sshdPid(dir, name);
  if (!isAlive(pid)) throw new Error(`sshd of ${name} is not running`);
  freezeTrees([pid]);
}

export function thawHost(dir: string, name: string): void {
  hostOf(dir, name);
  const pid = sshdPid(dir, name);
  if (!isAlive(pid)) return;
  for (const p of [pid, ...descendants([pid])]) signal(p, 'SIGCONT');
}

/**
 * Stops / starts the host's app through its own host script, as an operator on the box would: as
 * the deploy user, so the app it starts is one a later install over SSH can stop.
 */
export async function stopApp(dir: string, name: string): Promise<void> {
  await runHostScript(dir, hostOf(dir, name).root, ['stop-app']);
}

export async function startApp(dir: string, name: string): Promise<void> {
  await runHostScript(dir, hostOf(dir, name).root, ['start-app']);
}

/** Moves the Runtime API socket away: connecting to its path fails with ENOENT, HAProxy keeps serving. */
export function hideHaproxyApi(dir: string): void {
  const p = labPaths(dir);
  if (fs.existsSync(p.haproxySocket)) fs.renameSync(p.haproxySocket, p.haproxyHiddenSocket);
}

export function restoreHaproxyApi(dir: string): void {
  const p = labPaths(dir);
  if (fs.existsSync(p.haproxyHiddenSocket)) fs.renameSync(p.haproxyHiddenSocket, p.haproxySocket);
}

/** Stops the nginx LB host's sshd: the LB cannot be reached; nginx keeps serving users. */
export async function stopLbSshd(dir: string): Promise<void> {
  const pid = readState(dir)?.lbSshdPid;
  if (isAlive(pid)) await stopPids([pid, ...descendants([pid])]);
}

export async function startLbSshdAgain(dir: string): Promise<void> {
  const state = readState(dir);
  if (!state) throw new Error(`no lab is up in ${dir}`);
  const lbHost = labOf(dir, state).lbHost;
  if (!lbHost) throw new Error('this lab runs HAProxy: it has no LB host to reach over SSH (lab up --lb nginx)');
  if (isAlive(state.lbSshdPid)) return;
  const pid = await startSshd(lbHost);
  updateState(dir, (s) => {
    s.lbSshdPid = pid;
  });
}

/** One entry point for the CLI: `lab fault <kind> <host> [--undo]` (haproxy-api takes no host). */
export async function applyFault(kind: FaultKind, host: string | undefined, undo: boolean, dir = defaultLabDir()): Promise<void> {
  dir = path.resolve(dir);
  const need = () => {
    if (!host) throw new Error(`fault ${kind} needs a host name`);
    return host;
  };
  switch (kind) {
    case 'sshd':
      return undo ? startSshdAgain(dir, need()) : stopSshd(dir, need());
    case 'freeze':
      return undo ? thawHost(dir, need()) : freezeHost(dir, need());
    case 'app':
      return undo ? startApp(dir, need()) : stopApp(dir, need());
    case 'haproxy-api':
      return undo ? restoreHaproxyApi(dir) : hideHaproxyApi(dir);
    case 'lb-ssh':
      return undo ? startLbSshdAgain(dir) : stopLbSshd(dir);
  }
}

/**
 * Ends every open SSH connection to the lab's hosts from their side, as a network blip or an sshd
 * restart would; the listeners keep accepting. sshd serves each connection in a child process of
 * its listener, so those are stopped (an app is not among them: its install detached it, and the
 * shell that started it has exited). Returns how many connections there were.
 */
export async function dropSshConnections(dir = defaultLabDir()): Promise<number> {
  const state = readState(dir);
  if (!state) throw new Error(`no lab is up in ${dir}`);
  return (await stopPids(childrenOf(Object.values(state.sshdPids)))).length;
}
