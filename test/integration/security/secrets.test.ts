// Secrets never reach Temporal: the worker runs as its own process, as in production, with an
// encrypted SSH key and its passphrase, a hashed known_hosts, an API key and password-like values in
// its environment. A full deployment and a failed (rolled back) one run on the real lab; the whole
// history of both (input, results, heartbeats, failures), and the worker's own output, contain none
// of the secrets, in plain text or base64.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { hostCurrentRelease } from '../../../src/lab';
import { blueGreenDeployment } from '../../../src/workflows';
import { useTestLab } from '../../support/test-lab';
import { useTemporal, uniqueId } from '../../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process';

const temporal = useTemporal();
const t = useTestLab(21);
let worker: WorkerProcess | undefined;
afterAll(async () => {
  await worker?.kill();
});

const PASSPHRASE = 'bg-secret-passphrase-Q7x2';
const API_KEY = 'bg-secret-api-key-9Kd4mZ';
const DB_PASSWORD = 'bg-secret-db-password-Vv81';

describe('secrets', () => {
  it('appear nowhere in the history of a full and a failed deployment, nor in the worker output', async () => {
    const dir = fs.mkdtempSync(path.join(t.lab.dir, 'secrets-'));
    // The lab's key, encrypted with a passphrase the worker gets from its environment.
    const key = path.join(dir, 'id_ed25519');
    fs.copyFileSync(t.lab.keyPath, key);
    fs.chmodSync(key, 0o600);
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', key]);
    // known_hosts hashed by ssh-keygen -H: no host name or port in clear.
    const knownHosts = path.join(dir, 'known_hosts');
    fs.copyFileSync(t.lab.knownHostsPath, knownHosts);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHosts], { stdio: 'ignore' });
    fs.rmSync(`${knownHosts}.old`, { force: true });
    const hashed = fs.readFileSync(knownHosts, 'utf8');
    expect(hashed).not.toContain('127.0.0.1');
    expect(
      hashed
        .trim()
        .split('\n')
        .every((l) => l.startsWith('|1|')),
    ).toBe(true);
    // A TLS private key the worker holds in its environment (the dev server has no TLS to use it on).
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', path.join(dir, 'tls.key')]);
    const tlsKey = fs.readFileSync(path.join(dir, 'tls.key'), 'utf8');

    const secrets: Record<string, string> = {
      'SSH private key (plain, first body line)': fs.readFileSync(t.lab.keyPath, 'utf8').split('\n')[1]!,
      'SSH private key (encrypted, first body line)': fs.readFileSync(key, 'utf8').split('\n')[1]!,
      'SSH private key (base64 body)': fs
        .readFileSync(t.lab.keyPath, 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('-----'))
        .join(''),
      'SSH key passphrase': PASSPHRASE,
      'Temporal API key': API_KEY,
      'database password': DB_PASSWORD,
      'TLS private key body': tlsKey.split('\n')[1]!,
    };
    for (const [what, value] of Object.entries(secrets)) expect(value.length, what).toBeGreaterThan(15);

    const taskQueue = uniqueId('secrets');
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TLS: '0',
      TEMPORAL_API_KEY: API_KEY,
      BG_TASK_QUEUE: taskQueue,
      BG_SSH_KEY: key,
      BG_SSH_KEY_PASSPHRASE: PASSPHRASE,
      BG_KNOWN_HOSTS: knownHosts,
      DATABASE_PASSWORD: DB_PASSWORD,
      DATABASE_TLS_KEY: tlsKey,
      BG_LOG_LEVEL: 'DEBUG',
    });

    // 1. A full deployment v1 → v2 (the worker could only log in with the decrypted key, and only
    //    trust the hosts through the hashed entries).
    const ok = await temporal.client.workflow.start(blueGreenDeployment, {
      taskQueue,
      workflowId: uniqueId('secrets-ok'),
      args: [{ ...t.plan, release: 'v2', currentRelease: 'v1' }],
      workflowExecutionTimeout: '4 minutes',
    });
    expect((await ok.result()).outcome).toBe('succeeded');
    for (const h of t.lab.hosts) expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('v2');

    // 2. A failed one: bad-smoke passes health but fails the smoke test, so green is rolled back.
    const failed = await temporal.client.workflow.start(blueGreenDeployment, {
      taskQueue,
      workflowId: uniqueId('secrets-failed'),
      args: [{ ...t.plan, release: 'bad-smoke', currentRelease: 'v2' }],
      workflowExecutionTimeout: '4 minutes',
    });
    const failure = await failed.result().then(
      () => undefined,
      (e: Error & { cause?: Error }) => e.cause,
    );
    expect(failure?.message).toMatch(/smoke test/);
    for (const h of t.lab.hosts) expect(hostCurrentRelease(h.name, t.lab.dir)).toBe('v2');

    for (const handle of [ok, failed]) {
      const history = await handle.fetchHistory();
      // Payloads decoded as text (what a reader of the history sees), and the raw export (base64).
      const asExport = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
      const asText = JSON.stringify(history, (k, v: unknown) => {
        if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
        if ((k === 'data' || k === 'details') && typeof v === 'string') return Buffer.from(v, 'base64').toString('utf8');
        return v;
      });
      // The check would see a secret if it were there: the decoded history holds the plan's commands.
      expect(asText.includes(`${t.lab.hostScript} install {release}`), 'decoded history shows the plan').toBe(true);
      for (const [what, value] of Object.entries(secrets)) {
        for (const form of [value, Buffer.from(value).toString('base64').replace(/=+$/, '')]) {
          expect(asText.includes(form), `${what} in history of ${handle.workflowId}`).toBe(false);
          expect(asExport.includes(form), `${what} in exported history of ${handle.workflowId}`).toBe(false);
        }
      }
    }
    const output = worker.output();
    for (const [what, value] of Object.entries(secrets)) expect(output.includes(value), `${what} in worker output`).toBe(false);
  });
});
