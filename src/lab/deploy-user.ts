// Who the lab's hosts are logged into as. Root's login here is slow and nondeterministic (its
// .bashrc runs `pyenv init`, with a lock under concurrency), so a lab started as root logs in as a
// dedicated non-root user with /bin/sh, unless asked for another user (e.g. root, on purpose).
import fs from 'node:fs';
import os from 'node:os';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEFAULT_DEPLOY_USER = 'bgdeploy';
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export interface LabUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * The user name a new lab logs in as: `requested`, else BG_LAB_USER, else the deploy user as root
 * and the current user otherwise. sshd run by an ordinary user can only let that same user in.
 */
export function chooseLabUser(requested = process.env.BG_LAB_USER || undefined): string {
  const me = os.userInfo().username;
  if (!isRoot()) {
    if (requested && requested !== me)
      throw new Error(`the lab runs as ${me}, not root: its sshd can only let ${me} in (asked for user "${requested}")`);
    return me;
  }
  const name = requested ?? DEFAULT_DEPLOY_USER;
  if (!USER_NAME.test(name)) throw new Error(`not a user name: ${JSON.stringify(name)}`);
  return name;
}

/** The passwd entry of `name`, or undefined when there is none. */
export function lookupUser(name: string): LabUser | undefined {
  let line: string | undefined;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  } catch {
    // getent exits 2 for an unknown user; without getent, read the file it would have read
    try {
      line = fs
        .readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name}:`));
    } catch {}
  }
  const f = line?.split(':');
  if (!f || f.length < 7 || f[0] !== name) return undefined;
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
}

/** The shadow password field: "!..." means locked, and sshd without PAM refuses even keys then. */
function shadowPassword(name: string): string | undefined {
  try {
    return fs
      .readFileSync('/etc/shadow', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`))
      ?.split(':')[1];
  } catch {
    return undefined;
  }
}

/**
 * The lab user, created when it is the default deploy user and missing. Idempotent, and safe when
 * two labs start at once (useradd then fails on its lock or on the name; we look again).
 */
export async function ensureLabUser(name: string, log: (m: string) => void = () => {}): Promise<LabUser> {
  let user = lookupUser(name);
  if (!user && (name !== DEFAULT_DEPLOY_USER || !isRoot()))
    throw new Error(`no user "${name}" on this machine (create it with: useradd -m -s /bin/sh -p '*' ${name})`);
  for (let attempt = 1; !user; attempt++) {
    log(`creating the lab's deploy user ${name} (login shell /bin/sh)`);
    try {
      // -p '*': no password, yet not locked ("!"), which sshd with UsePAM no would refuse.
      await run('useradd', ['-m', '-U', '-s', '/bin/sh', '-p', '*', '-c', 'bluegreen lab deploy user', name]);
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT')
        throw new Error(`cannot create the lab's deploy user ${name}: useradd is missing (apt-get install passwd), or pass --user root`);
      if (attempt >= 5 && !lookupUser(name))
        throw new Error(`cannot create the lab's deploy user ${name}: ${err.stderr?.trim() || err.message}`);
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
    user = lookupUser(name);
  }
  if (isRoot() && user.uid !== 0 && shadowPassword(name)?.startsWith('!')) {
    if (name !== DEFAULT_DEPLOY_USER)
      throw new Error(`user ${name} is locked (password "!"): sshd without PAM refuses its keys; unlock it with usermod -p '*' ${name}`);
    await run('usermod', ['-p', '*', name]);
  }
  return user;
}

/** The user this process runs as, in the same shape (a lab started by an ordinary user). */
export function currentUser(): LabUser {
  const u = os.userInfo();
  return { name: u.username, uid: u.uid, gid: u.gid, home: u.homedir, shell: u.shell ?? '' };
}

/** uid/gid options for spawn/execFile: only when switching user (an ordinary user cannot). */
export function spawnAs(user: LabUser): { uid?: number; gid?: number } {
  return process.getuid?.() === user.uid ? {} : { uid: user.uid, gid: user.gid };
}

/** What an SSH session of this user would see, instead of this process's environment. */
export function loginEnv(user: LabUser, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell, ...extra };
}

/** Makes files the lab created as root the user's (no-op for the current user). */
export function giveTo(user: LabUser, ...paths: string[]): void {
  if (process.getuid?.() === user.uid) return;
  for (const p of paths) fs.lchownSync(p, user.uid, user.gid);
}

/** giveTo for a whole tree. */
export function giveTreeTo(user: LabUser, root: string): void {
  if (process.getuid?.() === user.uid) return;
  giveTo(user, root);
  if (fs.lstatSync(root).isDirectory()) for (const e of fs.readdirSync(root)) giveTreeTo(user, `${root}/${e}`);
}

/**
 * Proves the user can read what its sessions need (node, the lab, the repo's better-sqlite3): a
 * directory above one of them that others cannot search would otherwise fail every install.
 */
export async function checkReachable(user: LabUser, files: string[]): Promise<void> {
  if (process.getuid?.() === user.uid) return;
  try {
    await run('/bin/sh', ['-c', 'for f; do test -r "$f" || { echo "$f"; exit 1; }; done', 'sh', ...files], {
      ...spawnAs(user),
      env: loginEnv(user),
    });
  } catch (e) {
    const file = (e as { stdout?: string }).stdout?.trim() || files.join(', ');
    throw new Error(
      `the lab's user ${user.name} cannot read ${file}: a directory above it is not searchable by others ` +
        `(chmod o+x it, put the lab elsewhere with BG_LAB_DIR, or pass --user root)`,
    );
  }
}
