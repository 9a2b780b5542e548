// Running a host's own deploy script locally, as the user its SSH sessions log in as: an app that
// the lab (root) started would otherwise be root's, and a later install over SSH could not stop it.
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { labPaths } from './layout';
import { currentUser, loginEnv, lookupUser, spawnAs, type LabUser } from './deploy-user';
import { readState } from './state';

const run = promisify(execFile);

/** The user a lab's hosts log in as (state.json), looked up in the passwd database. */
export function labUserOf(dir: string): LabUser {
  const name = readState(path.resolve(dir))?.user;
  if (!name || name === currentUser().name) return currentUser();
  const user = lookupUser(name);
  if (!user) throw new Error(`the lab's user ${name} no longer exists`);
  return user;
}

/** `lab-host ARGS...` for the host whose filesystem is `hostRoot`, as `user` (default: the lab's). */
export function runHostScript(
  dir: string,
  hostRoot: string,
  args: string[],
  user = labUserOf(dir),
): Promise<{ stdout: string; stderr: string }> {
  return run(labPaths(dir).hostScript, args, { ...spawnAs(user), env: loginEnv(user, { BG_HOST_ROOT: hostRoot }) });
}
