// Connection settings for Temporal (src/config.ts): TLS, mTLS and API key from the environment or
// files, with errors that name the variable and the path, and never quote key material.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectionOptions, describeSettings, temporalSettings } from '../../../src/config';

let dir: string;
const f = (name: string) => path.join(dir, name);

function makeCert(name: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.crt`),
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-config-'));
  makeCert('client');
  makeCert('other');
  makeCert('ca');
  fs.writeFileSync(f('api-key'), 'bg-test-api-key-7f3a9c\n');
  fs.writeFileSync(f('empty'), '');
  fs.writeFileSync(f('two-keys'), 'key-one\nkey-two\n');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const keyBody = () => fs.readFileSync(f('client.key'), 'utf8').split('\n')[1] ?? 'unreadable';
const errorOf = (env: Record<string, string>) => {
  try {
    temporalSettings(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected temporalSettings to throw');
};

describe('temporalSettings', () => {
  it('defaults to plain text on localhost:7233, namespace default, task queue bluegreen', () => {
    const s = temporalSettings({});
    expect(s).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'bluegreen' });
    expect(s.tls).toBeUndefined();
    expect(s.apiKey).toBeUndefined();
  });

  it('TEMPORAL_TLS=1 uses TLS with the system roots', () => {
    expect(temporalSettings({ TEMPORAL_TLS: '1' }).tls).toBe(true);
    expect(temporalSettings({ TEMPORAL_TLS: 'true' }).tls).toBe(true);
  });

  it('a self-hosted cluster: own CA and server name override', () => {
    const s = temporalSettings({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CA: f('ca.crt'),
      TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal',
    });
    expect(s.tls).toMatchObject({ serverNameOverride: 'frontend.temporal', serverRootCACertificate: fs.readFileSync(f('ca.crt')) });
    expect(describeSettings(s)).toBe('temporal.internal:7233, namespace default, TLS (own CA), server name frontend.temporal');
  });

  it('mTLS: client certificate and key from files', () => {
    const s = temporalSettings({ TEMPORAL_TLS_CERT: f('client.crt'), TEMPORAL_TLS_KEY: f('client.key'), TEMPORAL_TLS_CA: f('ca.crt') });
    expect(s.tls).toMatchObject({ clientCertPair: { crt: fs.readFileSync(f('client.crt')), key: fs.readFileSync(f('client.key')) } });
    expect(describeSettings(s)).not.toContain(keyBody());
    expect(describeSettings(s)).toContain('client certificate');
  });

  it('Temporal Cloud: an API key from the environment or a file implies TLS; the description hides it', () => {
    const fromEnv = temporalSettings({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'bg-test-api-key-7f3a9c',
    });
    expect(fromEnv).toMatchObject({ tls: true, apiKey: 'bg-test-api-key-7f3a9c', namespace: 'my-ns.a1b2c' });
    const fromFile = temporalSettings({ TEMPORAL_API_KEY_FILE: f('api-key') });
    expect(fromFile).toMatchObject({ tls: true, apiKey: 'bg-test-api-key-7f3a9c' });
    expect(describeSettings(fromFile)).toBe('localhost:7233, namespace default, TLS (system roots), API key');
    expect(connectionOptions(fromFile)).toEqual({ address: 'localhost:7233', tls: true, apiKey: 'bg-test-api-key-7f3a9c' });
  });

  it('TEMPORAL_TLS=0 turns TLS off explicitly (a local server), and contradicting it is refused', () => {
    expect(temporalSettings({ TEMPORAL_TLS: '0', TEMPORAL_API_KEY: 'k' })).toMatchObject({ tls: undefined, apiKey: 'k' });
    expect(errorOf({ TEMPORAL_TLS: '0', TEMPORAL_TLS_CA: f('ca.crt') })).toBe(
      'TEMPORAL_TLS=0 contradicts TEMPORAL_TLS_CERT/TEMPORAL_TLS_CA/TEMPORAL_TLS_SERVER_NAME: remove one or the other',
    );
    expect(errorOf({ TEMPORAL_TLS: 'yes' })).toBe(
      'TEMPORAL_TLS=yes: expected 1/true (use TLS) or 0/false (plain text, for a local server only)',
    );
  });
});

describe('temporalSettings refuses what it cannot use, naming the variable', () => {
  it('a file that does not exist, a directory, and an unreadable file', () => {
    expect(errorOf({ TEMPORAL_TLS_CA: '/nonexistent/ca.pem' })).toBe(
      'TEMPORAL_TLS_CA=/nonexistent/ca.pem: cannot read the file (no such file)',
    );
    expect(errorOf({ TEMPORAL_API_KEY_FILE: dir })).toBe(
      `TEMPORAL_API_KEY_FILE=${dir}: cannot read the file (it is a directory, not a file)`,
    );
    if (process.getuid?.() !== 0) {
      fs.copyFileSync(f('client.key'), f('locked.key'));
      fs.chmodSync(f('locked.key'), 0);
      expect(errorOf({ TEMPORAL_TLS_CERT: f('client.crt'), TEMPORAL_TLS_KEY: f('locked.key') })).toMatch(
        /TEMPORAL_TLS_KEY=.*locked\.key: cannot read the file \(permission denied\)/,
      );
    }
  });

  it('a certificate without its key, or a key without its certificate', () => {
    expect(errorOf({ TEMPORAL_TLS_CERT: f('client.crt') })).toBe(
      'TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: mTLS needs the client certificate and its key',
    );
    expect(errorOf({ TEMPORAL_TLS_KEY: f('client.key') })).toBe(
      'TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: mTLS needs the client certificate and its key',
    );
  });

  it("a key that is not the certificate's own", () => {
    expect(errorOf({ TEMPORAL_TLS_CERT: f('client.crt'), TEMPORAL_TLS_KEY: f('other.key') })).toBe(
      'TEMPORAL_TLS_KEY is not the private key of the certificate in TEMPORAL_TLS_CERT',
    );
  });

  it('files swapped between variables: named, and the key is not quoted', () => {
    const message = errorOf({ TEMPORAL_TLS_CERT: f('client.key'), TEMPORAL_TLS_KEY: f('client.crt') });
    expect(message).toMatch(
      /^TEMPORAL_TLS_CERT=.*client\.key: expected a PEM certificate \("-----BEGIN CERTIFICATE-----"\), found \d+ bytes of something else$/,
    );
    expect(message).not.toContain(keyBody());
    expect(errorOf({ TEMPORAL_TLS_CA: f('api-key') })).not.toContain('bg-test-api-key');
  });

  it('API key: both variables set, an empty file, a file with several keys', () => {
    expect(errorOf({ TEMPORAL_API_KEY: 'a', TEMPORAL_API_KEY_FILE: f('api-key') })).toMatch(
      /TEMPORAL_API_KEY and TEMPORAL_API_KEY_FILE are both set/,
    );
    expect(errorOf({ TEMPORAL_API_KEY_FILE: f('empty') })).toBe(`TEMPORAL_API_KEY_FILE=${f('empty')}: the file is empty`);
    const several = errorOf({ TEMPORAL_API_KEY_FILE: f('two-keys') });
    expect(several).toMatch(/expected one API key on one line/);
    expect(several).not.toContain('key-one');
  });

  it('an address that is not host:port', () => {
    expect(errorOf({ TEMPORAL_ADDRESS: 'http://localhost:7233' })).toMatch(/^TEMPORAL_ADDRESS=http:\/\/localhost:7233: expected host:port/);
  });
});

describe('connecting with these settings to the real dev server', () => {
  it('plain text with an API key (TEMPORAL_TLS=0) connects; TLS against a plain-text server fails fast with an error', async () => {
    const address = inject('temporalAddress');
    const plain = temporalSettings({ TEMPORAL_ADDRESS: address, TEMPORAL_TLS: '0', TEMPORAL_API_KEY: 'bg-test-api-key-7f3a9c' });
    const ok = await Connection.connect({ ...connectionOptions(plain), connectTimeout: '5 seconds' });
    await ok.workflowService.getSystemInfo({});
    await ok.close();

    const tls = temporalSettings({ TEMPORAL_ADDRESS: address, TEMPORAL_TLS: '1' });
    const t0 = Date.now();
    const err = await Connection.connect({ ...connectionOptions(tls), connectTimeout: '3 seconds' }).then(
      async (c) => {
        await c.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('worker secrets from the environment', () => {
  it('an encrypted SSH key: the passphrase from a variable or a file; a wrong one is refused without quoting it or the key', async () => {
    const [{ realDeps }, { secretsFromEnv }] = await Promise.all([
      import('../../../src/worker-deps'),
      import('../../../src/worker-secrets'),
    ]);
    const key = f('id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'bg-right-passphrase', '-f', key]);
    fs.writeFileSync(f('passphrase'), 'bg-right-passphrase\n');
    fs.writeFileSync(f('known_hosts'), '');
    const base = { BG_SSH_KEY: key, BG_KNOWN_HOSTS: f('known_hosts') };
    expect(secretsFromEnv({ ...base, BG_SSH_KEY_PASSPHRASE_FILE: f('passphrase') }).sshKeyPassphrase).toBe('bg-right-passphrase');
    const ok = await realDeps(secretsFromEnv({ ...base, BG_SSH_KEY_PASSPHRASE: 'bg-right-passphrase' }));
    ok.close();
    const wrong = await realDeps(secretsFromEnv({ ...base, BG_SSH_KEY_PASSPHRASE: 'bg-wrong-passphrase' })).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(wrong).toMatch(/^SSH private key is unusable: /);
    expect(wrong).not.toContain('bg-wrong-passphrase');
    expect(wrong).not.toContain(fs.readFileSync(key, 'utf8').split('\n')[1]);
    expect(() => secretsFromEnv({ ...base, BG_SSH_KEY_PASSPHRASE: 'a', BG_SSH_KEY_PASSPHRASE_FILE: f('passphrase') })).toThrow(/both set/);
    expect(() => secretsFromEnv({ ...base, BG_SSH_KEY_PASSPHRASE_FILE: '/nonexistent/pass' })).toThrow(
      'BG_SSH_KEY_PASSPHRASE_FILE=/nonexistent/pass: cannot read the file (ENOENT)',
    );
  });
});
