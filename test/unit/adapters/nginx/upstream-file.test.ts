// The nginx adapter's pure parts: the upstream file format, the scripts' replies, and that a
// hostile line survives the shell round trip as data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  effectOf,
  initialUpstreamFile,
  parseUpstreamFile,
  renderUpstreamFile,
  withStates,
} from '../../../../src/adapters/nginx/upstream-file';
import { parseReadReply, parseWriteReply, writeScript } from '../../../../src/adapters/nginx/remote';
import { loadPlan } from '../../../../src/plan/load';

const servers = { 'web-1': '10.0.0.1:8080', 'web-2': '[fe80::1]:8080' };

describe('the README-style nginx plan', () => {
  it('validates, with the defaults filled in', async () => {
    const plan = await loadPlan(fileURLToPath(new URL('../../../support/plans/good/nginx.yaml', import.meta.url)));
    expect(plan.loadBalancer).toMatchObject({
      type: 'nginx',
      pidFile: '/run/nginx.pid',
      healthPath: '/health',
      reloadCommand: 'sudo nginx -s reload',
    });
  });
});

describe('upstream file', () => {
  it('renders, parses back, and changes only the servers asked', () => {
    const text = initialUpstreamFile(servers, 'ready');
    expect(text.split('\n').slice(1)).toEqual([
      'server 10.0.0.1:8080; # bluegreen:web-1 ready',
      'server [fe80::1]:8080; # bluegreen:web-2 ready',
      '',
    ]);
    const lines = parseUpstreamFile(text);
    expect(renderUpstreamFile(lines)).toBe(text);
    const drained = renderUpstreamFile(withStates(lines, ['web-2'], 'drain'));
    expect(drained).toContain('server [fe80::1]:8080 down; # bluegreen:web-2 drain\n');
    expect(drained).toContain('server 10.0.0.1:8080; # bluegreen:web-1 ready\n');
  });

  it('tells a change nginx must see from a marker-only change', () => {
    const lines = parseUpstreamFile(initialUpstreamFile(servers, 'ready'));
    const drain = withStates(lines, ['web-1'], 'drain');
    expect(effectOf(drain)).not.toBe(effectOf(lines));
    expect(effectOf(withStates(drain, ['web-1'], 'maint'))).toBe(effectOf(drain));
  });

  it.each([
    ['server 10.0.0.1:80 down; # bluegreen:a ready', /marks a ready but has "down"/],
    ['server 10.0.0.1:80; # bluegreen:a maint', /marks a maint but lacks "down"/],
    ['server 10.0.0.1:80 backup; # bluegreen:a ready', /not a server line bluegreen writes/],
    ['server 10.0.0.1:80;', /not a server line bluegreen writes/],
    ['server 10.0.0.1; # bluegreen:a ready', /address that is not host:port/],
    ['server 10.0.0.1:80; # bluegreen:a;b ready', /server name outside/],
    ['# café', /printable ASCII/],
    ['server 10.0.0.1:80; # bluegreen:a ready\nserver 10.0.0.2:80; # bluegreen:a ready', /names a a second time/],
  ])('refuses %j', (text, why) => {
    expect(() => parseUpstreamFile(`${text}\n`)).toThrow(why);
  });
});

describe('replies of the LB host', () => {
  const ps = (master: number) =>
    [
      `  ${master}     1 nginx: master process /usr/sbin/nginx -c /x.conf`,
      `  501 ${master} nginx: worker process`,
      `  502 ${master} nginx: worker process is shutting down`,
      `  503 ${master} nginx: worker process is shutting down`,
      '  601   600 nginx: worker process is shutting down',
    ].join('\n');

  it('counts the workers of this master only, and reads file and applied copy', () => {
    const out = `BG-FILE\n|# x\n|server 1.2.3.4:80; # bluegreen:a ready\nBG-END\nBG-APPLIED\n|# y\nBG-END\nBG-PID 500\nBG-PS\n${ps(500)}\nBG-END\n`;
    const r = parseReadReply(out, '/f', '/p');
    expect(r).toEqual({
      file: '# x\nserver 1.2.3.4:80; # bluegreen:a ready\n',
      applied: '# y\n',
      masterPid: 500,
      workers: 1,
      shuttingDown: 2,
    });
  });

  it('says nginx is not running when the pid file names no live master', () => {
    const r = parseReadReply(`BG-FILE\nBG-END\nBG-PID 999\nBG-PS\n${ps(500)}\nBG-END\n`, '/f', '/run/nginx.pid');
    expect(r).toMatchObject({ notRunning: '/run/nginx.pid names process 999, which is not running' });
  });

  it('refuses a reply cut short rather than guessing', () => {
    expect(() => parseReadReply('BG-FILE\n|server', '/f', '/p')).toThrow(/cut short/);
    expect(() => parseWriteReply('BG-TEST\nsomething', 10)).toThrow(/ended without saying how/);
  });

  it('carries nginx -t output out of a failed change', () => {
    expect(
      parseWriteReply(
        'BG-TEST\nnginx: [emerg] unknown directive "x" in /c:3\nnginx: configuration file /c test failed\nBG-OUT test-failed\n',
        10,
      ),
    ).toEqual({
      kind: 'test-failed',
      output: 'nginx: [emerg] unknown directive "x" in /c:3\nnginx: configuration file /c test failed',
    });
  });
});

describe('the change script in a real shell', () => {
  it('writes a comment holding quotes and $(...) as data, byte for byte', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-nginx-file-'));
    try {
      const file = path.join(dir, 'live.servers');
      const before = '# it\'s $(touch pwned) `id` "q"\nserver 10.0.0.1:80; # bluegreen:a ready\n';
      fs.writeFileSync(file, before);
      const after = before.replace('80; # bluegreen:a ready', '80 down; # bluegreen:a maint');
      // No nginx here: a test command that passes and no reload; the pid file names this (running) process.
      const script = writeScript({
        file,
        pidFile: path.join(dir, 'pid'),
        expected: before,
        content: after,
        reload: false,
        testCommand: 'true',
        reloadCommand: 'false',
        confirmSeconds: 1,
      });
      fs.writeFileSync(path.join(dir, 'pid'), `${process.pid}\n`);
      const sh = () => spawnSync('/bin/sh', ['-c', script], { cwd: dir, encoding: 'utf8' }).stdout;
      const out = sh();
      expect(out.trim().split('\n').at(-1)).toBe('BG-OUT written');
      expect(fs.readFileSync(file, 'utf8')).toBe(after);
      expect(fs.readFileSync(`${file}.bluegreen-applied`, 'utf8')).toBe(after);
      expect(fs.existsSync(path.join(dir, 'pwned'))).toBe(false);
      // A file without its final newline reads as one with it: the change still applies.
      fs.writeFileSync(file, before.slice(0, -1));
      expect(sh().trim().split('\n').at(-1)).toBe('BG-OUT written');
      expect(fs.readFileSync(file, 'utf8')).toBe(after);
      // The file changed since it was read: refused, left alone.
      const stale = sh().trim();
      expect(stale).toBe('BG-OUT changed-meanwhile');
      expect(fs.readFileSync(file, 'utf8')).toBe(after);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
