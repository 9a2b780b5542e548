// HAProxy Runtime API wire protocol: one command per connection (no `prompt` mode), the reply
// is everything until HAProxy closes the socket. Parsers here are strict on purpose: a reply
// that is not exactly the expected shape is an LbProtocolError, never a best guess.
import net from 'node:net';
import { LbCommandError, LbProtocolError, LbUnavailableError, replyStart, type AdminState } from '../../ports/lb';

export type RuntimeAddress = { socket: string } | { host: string; port: number };

export interface RuntimeOptions {
  connectTimeoutMs?: number;
  /** From connect to HAProxy closing the connection. */
  replyTimeoutMs?: number;
  maxReplyBytes?: number;
}

export function describeAddress(addr: RuntimeAddress): string {
  return 'socket' in addr ? `unix:${addr.socket}` : `${addr.host}:${addr.port}`;
}

/**
 * Sends one command and returns the raw reply. The command must already be built from
 * validated names; a line break or `;` here would start a second command, so it is refused.
 */
export async function runtimeCommand(addr: RuntimeAddress, command: string, opts: RuntimeOptions = {}): Promise<string> {
  if (/[\r\n;\0]/.test(command)) throw new Error(`refusing to send a runtime command with a separator: ${JSON.stringify(command)}`);
  const where = describeAddress(addr);
  const connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
  const replyTimeoutMs = opts.replyTimeoutMs ?? 5000;
  const maxReplyBytes = opts.maxReplyBytes ?? 1024 * 1024;

  return new Promise((resolve, reject) => {
    const sock =
      'socket' in addr ? net.createConnection({ path: addr.socket }) : net.createConnection({ host: addr.host, port: addr.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | null, value?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(replyTimer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? '');
    };
    const connectTimer = setTimeout(
      () => finish(new LbUnavailableError(where, 'ETIMEDOUT', `no connection within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    const replyTimer = setTimeout(
      () => finish(new LbUnavailableError(where, 'ETIMEDOUT', `no complete reply to "${command}" within ${replyTimeoutMs} ms`)),
      replyTimeoutMs,
    );
    sock.on('connect', () => {
      clearTimeout(connectTimer);
      sock.write(`${command}\n`);
    });
    sock.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxReplyBytes) {
        const start = Buffer.concat(chunks).toString('latin1');
        return finish(new LbProtocolError(where, `reply to "${command}" larger than ${maxReplyBytes} bytes`, replyStart(start)));
      }
      chunks.push(chunk);
    });
    sock.on('end', () => finish(null, Buffer.concat(chunks).toString('utf8')));
    sock.on('close', () => finish(null, Buffer.concat(chunks).toString('utf8')));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(new LbUnavailableError(where, err.code ?? 'ERROR', err.message)));
  });
}

// `severity-output number` on the socket line prefixes messages with "[3]: ".
const stripSeverity = (text: string) => text.replace(/^\[\d\]: /, '');

/** `set ...` commands: HAProxy answers an empty line on success, and text on any refusal. */
export function expectEmptyReply(command: string, reply: string): void {
  const text = reply.trim();
  if (text !== '') throw new LbCommandError(command, replyStart(stripSeverity(text), 300));
}

// What HAProxy 2.6 says when the named proxy does not exist: a refusal, not garbage.
const MISSING_PROXY = new Set(['No such proxy.', "Can't find backend.", 'No such backend.']);

function refusalOrGarbage(where: string, command: string, reply: string, problem: string): Error {
  const text = stripSeverity(reply.trim());
  if (MISSING_PROXY.has(text)) return new LbCommandError(command, text);
  return new LbProtocolError(where, problem, replyStart(reply));
}

/** Splits one CSV line; HAProxy quotes fields that contain commas or quotes (csv_enc). */
export function splitCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return undefined;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== ',') return undefined;
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

export interface StatRow {
  server: string;
  status: string;
  sessions: number;
}

/** Parses `show stat BACKEND 4 -1` (servers only). */
export function parseShowStat(where: string, command: string, backend: string, reply: string): StatRow[] {
  const bad = (problem: string) => new LbProtocolError(where, problem, replyStart(reply));
  if (!reply.startsWith('# ')) throw refusalOrGarbage(where, command, reply, 'not "show stat" CSV (no "# pxname,..." header)');
  // HAProxy ends every complete reply with an empty line; without it the reply was cut short.
  if (!reply.endsWith('\n\n')) throw bad('truncated "show stat" reply (no final empty line)');
  const lines = reply.slice(2, -2).split('\n');
  const header = splitCsvLine(lines[0] ?? '');
  if (!header) throw bad('unreadable CSV header');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw bad(`CSV header has no "${name}" column`);
    return i;
  };
  const [px, sv, scur, qcur, status, type] = ['pxname', 'svname', 'scur', 'qcur', 'status', 'type'].map(col) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return lines.slice(1).map((line, n) => {
    const f = splitCsvLine(line);
    if (!f || f.length !== header.length)
      throw bad(`CSV row ${n + 1} has ${f?.length ?? 'unreadable'} fields, header has ${header.length}`);
    if (f[px] !== backend) throw bad(`row ${n + 1} is for proxy "${f[px]}", asked for "${backend}"`);
    if (f[type] !== '2') throw bad(`row ${n + 1} is not a server row (type ${f[type]})`);
    for (const c of [scur, qcur]) if (!/^\d{1,9}$/.test(f[c]!)) throw bad(`row ${n + 1} has ${header[c]} ${JSON.stringify(f[c])}`);
    if (!f[sv] || !f[status]) throw bad(`row ${n + 1} has no server name or status`);
    // Requests queued for this server will still be served by it: they count as sessions.
    return { server: f[sv]!, status: f[status]!, sessions: Number(f[scur]) + Number(f[qcur]) };
  });
}

// srv_admin_state bits (include/haproxy/server-t.h, 2.6): MAINT = FMAINT|IMAINT|RMAINT (0x23),
// DRAIN = FDRAIN|IDRAIN (0x18). CMAINT (0x04, `disabled` in the config) stays set after
// `set server ... state ready`, so it alone does not mean maint.
const ADMF_MAINT = 0x23;
const ADMF_DRAIN = 0x18;

export function adminFromBits(bits: number): AdminState {
  if (bits & ADMF_MAINT) return 'maint';
  if (bits & ADMF_DRAIN) return 'drain';
  return 'ready';
}

/**
 * Parses `show servers state BACKEND` (format version 1). `show stat` cannot tell admin state on
 * its own: a drained server whose check fails shows DOWN, and weight 0 also shows DRAIN.
 */
export function parseServersState(where: string, command: string, backend: string, reply: string): Map<string, AdminState> {
  const bad = (problem: string) => new LbProtocolError(where, problem, replyStart(reply));
  if (!reply.startsWith('1\n# ')) throw refusalOrGarbage(where, command, reply, 'not "show servers state" version 1 output');
  if (!reply.endsWith('\n\n')) throw bad('truncated "show servers state" reply (no final empty line)');
  const lines = reply.slice(4, -2).split('\n');
  const header = (lines[0] ?? '').split(' ');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw bad(`header has no "${name}" column`);
    return i;
  };
  const [be, name, admin] = ['be_name', 'srv_name', 'srv_admin_state'].map(col) as [number, number, number];
  const out = new Map<string, AdminState>();
  lines.slice(1).forEach((line, n) => {
    const f = line.split(' ');
    if (f.length !== header.length) throw bad(`row ${n + 1} has ${f.length} fields, header has ${header.length}`);
    if (f[be] !== backend) throw bad(`row ${n + 1} is for backend "${f[be]}", asked for "${backend}"`);
    if (!/^\d{1,4}$/.test(f[admin]!)) throw bad(`row ${n + 1} has srv_admin_state ${JSON.stringify(f[admin])}`);
    out.set(f[name]!, adminFromBits(Number(f[admin])));
  });
  return out;
}
