// Host-side deploy script, run over SSH as on a real server (Capistrano/Kamal style):
//   lab-host install RELEASE | current | migrate | restart | stop-app | start-app | init-db
// The host is identified by BG_HOST_ROOT (set by sshd's SetEnv). Plain JS so it runs under bare
// `node` with no build step, like a script shipped to a server.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { openDb, initSchema, migrate, schemaVersion } from './db.mjs';

const RELEASE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEEP_RELEASES = 3;
const EXIT = { ok: 0, failed: 1, usage: 2, unknownRelease: 3 };

const log = (msg) => process.stderr.write(`lab-host: ${msg}\n`);
function die(code, msg) {
  log(msg);
  process.exit(code);
}

const root = process.env.BG_HOST_ROOT;
if (!root || !fs.existsSync(path.join(root, 'host.json'))) die(EXIT.failed, 'BG_HOST_ROOT is not set to a lab host directory');
const host = JSON.parse(fs.readFileSync(path.join(root, 'host.json'), 'utf8'));
const lab = JSON.parse(fs.readFileSync(path.join(host.labDir, 'lab.json'), 'utf8'));
const p = {
  releases: path.join(root, 'releases'),
  current: path.join(root, 'current'),
  pid: path.join(root, 'app.pid'),
  log: path.join(root, 'logs', 'app.log'),
  restarts: path.join(root, 'restarts.log'),
  lock: path.join(root, '.deploy-lock'),
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== 'EPERM') return false;
  }
  // An exited app waits as a zombie until init reaps it, which some inits do only every second or
  // so: it holds no port and no files, so it counts as stopped.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

function appPid() {
  try {
    const pid = Number(fs.readFileSync(p.pid, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function currentRelease() {
  try {
    return path.basename(fs.readlinkSync(p.current));
  } catch {
    return undefined;
  }
}

/** GET /health on the app itself: { status, release } or undefined when nothing answers. */
function probe() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: host.appPort, path: '/health', timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, release: JSON.parse(body).release });
        } catch {
          resolve({ status: res.statusCode, release: undefined });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
  });
}

/** One deploy at a time per host; a lock left by a dead process is taken over. */
async function withLock(fn) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(p.lock);
      fs.writeFileSync(path.join(p.lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let owner = 0;
      try {
        owner = Number(fs.readFileSync(path.join(p.lock, 'pid'), 'utf8'));
      } catch {}
      if (owner && !alive(owner)) {
        fs.rmSync(p.lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) die(EXIT.failed, `another deploy holds ${p.lock} (pid ${owner})`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(p.lock, { recursive: true, force: true });
  }
}

async function stopApp() {
  const pid = appPid();
  if (!pid) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    log(`app pid ${pid} ignored SIGTERM for 15 s; killing it`);
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(20);
  }
  fs.rmSync(p.pid, { force: true });
  return true;
}

async function startApp() {
  const release = currentRelease();
  if (!release) die(EXIT.failed, 'no current release to start');
  fs.mkdirSync(path.dirname(p.log), { recursive: true });
  const out = fs.openSync(p.log, 'a');
  // detached = setsid: the app leaves the SSH session's process group, and with stdio on a file
  // (not the channel) the SSH session can end while the app keeps running.
  const child = spawn(process.execPath, [path.join(p.current, 'app.mjs')], {
    cwd: path.join(p.releases, release),
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, BG_HOST_ROOT: root },
  });
  child.unref();
  fs.closeSync(out);
  fs.writeFileSync(p.pid, `${child.pid}\n`);
  fs.appendFileSync(p.restarts, `${new Date().toISOString()} ${release}\n`);
  // Wait until it answers at all (503 while warming up counts): health is the deployer's job.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!alive(child.pid)) die(EXIT.failed, `app exited at start; tail of ${p.log}:\n${tail(p.log)}`);
    const h = await probe();
    if (h && h.release === release) return;
    await sleep(50);
  }
  die(EXIT.failed, `app did not answer on port ${host.appPort} within 15 s`);
}

function tail(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

function validRelease(release) {
  if (typeof release !== 'string' || !RELEASE_PATTERN.test(release))
    die(EXIT.usage, `invalid release name ${JSON.stringify(release ?? '')}: expected ${RELEASE_PATTERN}`);
  return release;
}

async function install(release) {
  const artifact = path.join(lab.artifactsDir, release);
  if (!fs.existsSync(path.join(artifact, 'release.json')))
    die(EXIT.unknownRelease, `unknown release "${release}": no artifact in ${lab.artifactsDir}`);
  await withLock(async () => {
    const pid = appPid();
    if (currentRelease() === release && pid) {
      const h = await probe();
      // The running process already serves this release: restarting it cannot help (a slow start
      // would only start over), so a repeated install is a no-op.
      if (h && h.release === release) {
        log(`${release} is already current and running (pid ${pid}); nothing to do`);
        return;
      }
    }
    const dest = path.join(p.releases, release);
    if (!fs.existsSync(path.join(dest, '.installed'))) {
      const tmp = path.join(p.releases, `.tmp-${release}-${process.pid}`);
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.cpSync(artifact, tmp, { recursive: true });
      fs.writeFileSync(path.join(tmp, '.installed'), `${new Date().toISOString()}\n`);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(tmp, dest);
    } else {
      // Reinstalling a kept release (a rollback): mark it as the most recent.
      fs.writeFileSync(path.join(dest, '.installed'), `${new Date().toISOString()}\n`);
    }
    // Atomic switch: a symlink under a temporary name renamed over `current`.
    const link = path.join(root, `.current-${process.pid}`);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.join('releases', release), link);
    fs.renameSync(link, p.current);
    await stopApp();
    await startApp();
    prune(release);
  });
  process.stdout.write(`${release}\n`);
}

function prune(current) {
  const installed = fs
    .readdirSync(p.releases)
    .filter((d) => !d.startsWith('.'))
    .map((d) => ({ d, t: fs.statSync(path.join(p.releases, d, '.installed'), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of installed.slice(KEEP_RELEASES))
    if (d !== current) fs.rmSync(path.join(p.releases, d), { recursive: true, force: true });
}

const [cmd, arg] = process.argv.slice(2);
switch (cmd) {
  case 'install':
    await install(validRelease(arg));
    break;
  case 'current': {
    const r = currentRelease();
    if (!r) die(EXIT.failed, 'no current release');
    process.stdout.write(`${r}\n`);
    break;
  }
  case 'migrate': {
    const db = openDb(lab.dbPath, lab.betterSqlite3);
    const changed = migrate(db);
    const v = schemaVersion(db);
    db.close();
    process.stdout.write(changed ? `migrated to schema version ${v}\n` : `already at schema version ${v}; nothing to do\n`);
    break;
  }
  case 'init-db': {
    const db = openDb(lab.dbPath, lab.betterSqlite3);
    initSchema(db);
    db.close();
    break;
  }
  case 'restart':
    await withLock(async () => {
      await stopApp();
      await startApp();
    });
    break;
  case 'stop-app':
    await withLock(async () => log((await stopApp()) ? 'app stopped' : 'app was not running'));
    break;
  case 'start-app':
    await withLock(async () => (appPid() ? log('app already running') : startApp()));
    break;
  default:
    die(EXIT.usage, 'usage: lab-host install RELEASE | current | migrate | restart | stop-app | start-app');
}
