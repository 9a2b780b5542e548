// The adapter against fake Runtime API sockets that answer garbage, lie, stall or are missing.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyLoadBalancer } from '../../../../src/adapters/haproxy/load-balancer';
import { adminFromBits, parseShowStat } from '../../../../src/adapters/haproxy/runtime-api';
import { LbCommandError, LbProtocolError, LbUnavailableError, UnsafeLbNameError } from '../../../../src/ports/lb';
import { freePort } from '../../../support/haproxy';

type Answer = string | Buffer | 'hang';

let dir: string;
let fake: net.Server | undefined;
let received: string[] = [];
const open = new Set<net.Socket>();

const HEADER = '# pxname,svname,qcur,scur,status,type,check_desc,\n';
const row = (px: string, sv: string, scur: string, status: string, desc = '') => `${px},${sv},0,${scur},${status},2,${desc},\n`;
const STATE_HEADER = '1\n# be_id be_name srv_id srv_name srv_admin_state\n';
const stateRow = (be: string, sv: string, bits: number) => `3 ${be} 1 ${sv} ${bits}\n`;

/** A unix socket that records each command and answers what `answer` says (then closes). */
async function fakeSocket(answer: (command: string) => Answer): Promise<string> {
  const sockPath = path.join(dir, `fake-${Math.random().toString(36).slice(2)}.sock`);
  fake = net.createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    // A client that stops reading at its reply cap resets the connection mid-reply, as it may with HAProxy.
    sock.on('error', () => {});
    sock.once('data', (d) => {
      const command = d.toString('utf8');
      received.push(command);
      const a = answer(command.trim());
      if (a !== 'hang') sock.end(a);
    });
  });
  await new Promise<void>((r) => fake!.listen(sockPath, r));
  return sockPath;
}

const lbAt = (socket: string, opts = {}) =>
  new HaproxyLoadBalancer({ runtimeApi: { socket }, liveBackend: 'live', standbyBackend: 'standby' }, opts);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-fake-rt-'));
});
afterEach(async () => {
  for (const s of open) s.destroy();
  if (fake) await new Promise((r) => fake!.close(r));
  fake = undefined;
  received = [];
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('reading replies strictly', () => {
  it('reads the servers of a well-formed reply, including quoted CSV fields', async () => {
    const socket = await fakeSocket((c) =>
      c.startsWith('show stat')
        ? `${HEADER}${row('live', 'a', '3', 'UP', '"Layer7, ""odd"" text"')}${row('live', 'b', '0', 'DOWN')}\n`
        : `${STATE_HEADER}${stateRow('live', 'a', 0)}${stateRow('live', 'b', 8)}\n`,
    );
    expect(await lbAt(socket).readServers('live')).toEqual([
      { pool: 'live', server: 'a', admin: 'ready', status: 'UP', sessions: 3 },
      { pool: 'live', server: 'b', admin: 'drain', status: 'DOWN', sessions: 0 },
    ]);
    // Both commands, each on its own connection, sent at once (either may arrive first).
    expect([...received].sort()).toEqual(['show servers state live\n', 'show stat live 4 -1\n']);
  });

  const garbage: Array<[string, Answer, RegExp]> = [
    ['an HTTP answer', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', /no "# pxname,..." header.*HTTP\/1\.1 400/],
    ['binary noise', Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a]), /no "# pxname,..." header.*"\?\?\x13?/],
    ['an empty reply', '', /header\); reply starts with ""$/],
    ['CSV without scur', '# pxname,svname,status,type,\nlive,a,UP,2,\n\n', /no "scur" column/],
    ['rows of another backend', `${HEADER}${row('standby', 'a', '0', 'UP')}\n`, /proxy "standby", asked for "live"/],
    ['a cut-short reply', `${HEADER}${row('live', 'a', '0', 'UP')}`, /truncated/],
    ['a row with missing fields', `${HEADER}live,a,0\n\n`, /row 1 has 3 fields, header has 8/],
    ['a non-numeric session count', `${HEADER}${row('live', 'a', 'lots', 'UP')}\n`, /scur "lots"/],
    ['a frontend row', `${HEADER}live,FRONTEND,0,0,OPEN,0,,\n\n`, /not a server row/],
  ];
  for (const [what, reply, message] of garbage) {
    it(`refuses ${what} with LbProtocolError quoting the start of it`, async () => {
      const socket = await fakeSocket(() => reply);
      const err = await lbAt(socket)
        .readServers('live')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LbProtocolError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain(`unix:${socket}`);
    });
  }

  it('refuses a show servers state reply it cannot read, even after good show stat', async () => {
    const socket = await fakeSocket((c) =>
      c.startsWith('show stat') ? `${HEADER}${row('live', 'a', '0', 'UP')}\n` : 'Unknown command\n\n',
    );
    await expect(lbAt(socket).readServers('live')).rejects.toThrow(/not "show servers state" version 1 output/);
  });

  it('refuses when the two replies list different servers', async () => {
    const socket = await fakeSocket((c) =>
      c.startsWith('show stat') ? `${HEADER}${row('live', 'a', '0', 'UP')}\n` : `${STATE_HEADER}${stateRow('live', 'x', 0)}\n`,
    );
    await expect(lbAt(socket).readServers('live')).rejects.toThrow(/list different servers/);
  });

  it('stops reading a reply larger than the cap', async () => {
    const socket = await fakeSocket(() => `${HEADER}${row('live', 'a', '0', 'UP').repeat(100_000)}\n`);
    const err = await lbAt(socket, { maxReplyBytes: 64 * 1024 })
      .readServers('live')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbProtocolError);
    expect((err as Error).message).toMatch(/larger than 65536 bytes/);
  });

  it('treats a set command answered with any text as refused, with the text', async () => {
    const socket = await fakeSocket(() => 'Permission denied\n\n');
    const err = await lbAt(socket)
      .setState('live', 'a', 'drain')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbCommandError);
    expect((err as Error).message).toBe('load balancer refused "set server live/a state drain": Permission denied');
  });

  it('reads refusals the same with or without severity-output number', async () => {
    const socket = await fakeSocket((c) => (c.startsWith('set') ? '[3]: No such server.\n\n' : '[3]: No such proxy.\n\n'));
    await expect(lbAt(socket).setState('live', 'zz', 'drain')).rejects.toMatchObject({ name: 'LbCommandError', reply: 'No such server.' });
    await expect(lbAt(socket).readServers('live')).rejects.toMatchObject({ name: 'LbCommandError', reply: 'No such proxy.' });
  });

  it('maps srv_admin_state bits as HAProxy 2.6 defines them', () => {
    expect([0, 4, 1, 5, 2, 0x20, 8, 0x10, 8 | 4, 9].map(adminFromBits)).toEqual([
      'ready',
      'ready',
      'maint',
      'maint',
      'maint',
      'maint',
      'drain',
      'drain',
      'drain',
      'maint',
    ]);
  });

  it('counts requests queued for a server as its sessions (they will still be served by it)', () => {
    expect(parseShowStat('x', 'show stat live 4 -1', 'live', `${HEADER}live,a,2,1,UP,2,,\n\n`)).toEqual([
      { server: 'a', status: 'UP', sessions: 3 },
    ]);
  });

  it('parses a header-only reply as a backend with no servers', () => {
    expect(parseShowStat('x', 'show stat live 4 -1', 'live', `${HEADER}\n`)).toEqual([]);
  });
});

describe('reaching the API', () => {
  it('reports a missing socket as unavailable, with the address and errno', async () => {
    const missing = path.join(dir, 'nothing-here.sock');
    const err = await lbAt(missing)
      .readServers('live')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbUnavailableError);
    expect(err).toMatchObject({ address: `unix:${missing}`, code: 'ENOENT' });
  });

  it('reports a refused TCP address as unavailable', async () => {
    const port = await freePort();
    const lb = new HaproxyLoadBalancer({ runtimeApi: { host: '127.0.0.1', port }, liveBackend: 'live', standbyBackend: 'standby' });
    await expect(lb.ping()).rejects.toMatchObject({ name: 'LbUnavailableError', address: `127.0.0.1:${port}`, code: 'ECONNREFUSED' });
  });

  it('gives up on a socket that accepts and never answers, at the reply timeout', async () => {
    const socket = await fakeSocket(() => 'hang');
    const t0 = Date.now();
    const err = await lbAt(socket, { replyTimeoutMs: 300 })
      .readServers('live')
      .catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err).toMatchObject({ name: 'LbUnavailableError', code: 'ETIMEDOUT' });
  });
});

describe('names are checked before anything is sent', () => {
  const hostile = ['a\nset server live/b state maint', 'a;shutdown sessions server live/b', 'a b', '', 'a/b', 'x'.repeat(65), 'ä', 'a\r'];
  for (const name of hostile) {
    it(`refuses server name ${JSON.stringify(name.slice(0, 30))} without connecting`, async () => {
      let connections = 0;
      const socket = await fakeSocket(() => '\n');
      fake!.on('connection', () => connections++);
      const err = await lbAt(socket)
        .setState('live', name, 'maint')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeLbNameError);
      expect(connections).toBe(0);
      expect(received).toEqual([]);
    });
  }

  it('refuses hostile backend names when the adapter is built', () => {
    expect(
      () => new HaproxyLoadBalancer({ runtimeApi: { socket: '/x' }, liveBackend: 'live\nshow info', standbyBackend: 'standby' }),
    ).toThrow(UnsafeLbNameError);
    expect(() => new HaproxyLoadBalancer({ runtimeApi: { socket: '/x' }, liveBackend: 'live', standbyBackend: 'sb;x' })).toThrow(
      UnsafeLbNameError,
    );
  });

  it('refuses an unknown admin state without connecting', async () => {
    const socket = await fakeSocket(() => '\n');
    // The cast stands for input that skipped the type system (JSON from history).
    await expect(lbAt(socket).setState('live', 'a', 'up; maint' as 'ready')).rejects.toThrow(/unknown admin state/);
    expect(received).toEqual([]);
  });
});
