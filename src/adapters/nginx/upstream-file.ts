// The upstream file of one pool: the `server` lines nginx includes inside an `upstream { }` block
// the operator owns. Pure: parsing and rendering only, so the exact bytes a change writes are
// decided (and unit-tested) here, and a retry renders the very same file.
//
// Every server line carries a marker comment with the server's name and admin state:
//   server 10.0.1.11:8080; # bluegreen:web-g1 ready
//   server 10.0.1.12:8080 down; # bluegreen:web-g2 drain
// nginx has no names for upstream servers; the marker keeps the name (and drain vs maint, which
// nginx cannot tell apart) in the file, and `down` keeps the server visible while out of the pool.
import { LB_NAME_PATTERN, UPSTREAM_ADDRESS_PATTERN } from '../../plan/patterns';
import type { AdminState } from '../../ports/lb';

export interface ServerLine {
  kind: 'server';
  name: string;
  address: string;
  admin: AdminState;
}

/** A comment or blank line: kept as it is (the file's own, never from a plan). */
export interface TextLine {
  kind: 'text';
  text: string;
}

export type UpstreamLine = ServerLine | TextLine;

export const FILE_HEADER =
  '# Written by bluegreen: one line per server, its name and admin state in the marker. ' +
  'Rewritten as a whole on every change (temp file + rename).';

const SERVER_LINE = /^\s*server\s+(\S+?)(\s+down)?\s*;\s*#\s*bluegreen:(\S+)\s+(ready|drain|maint)\s*$/;
// Printable ASCII only: such a line is copied back into the file through a shell command.
const SAFE_TEXT = /^[\x20-\x7e\t]*$/;

/** Why a file cannot be read as one we write; the caller turns it into an LbProtocolError. */
export class UpstreamFileError extends Error {
  constructor(
    readonly problem: string,
    readonly line: string,
  ) {
    super(problem);
    this.name = 'UpstreamFileError';
  }
}

export function parseUpstreamFile(content: string): UpstreamLine[] {
  const lines = content.endsWith('\n') ? content.slice(0, -1).split('\n') : content === '' ? [] : content.split('\n');
  const seen = new Set<string>();
  return lines.map((raw, i): UpstreamLine => {
    const at = `line ${i + 1}`;
    if (!SAFE_TEXT.test(raw)) throw new UpstreamFileError(`${at} has characters other than printable ASCII`, raw);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return { kind: 'text', text: raw };
    const m = SERVER_LINE.exec(raw);
    if (!m)
      throw new UpstreamFileError(`${at} is not a server line bluegreen writes ("server HOST:PORT [down]; # bluegreen:NAME STATE")`, raw);
    const [, address, down, name, admin] = m as unknown as [string, string, string | undefined, string, AdminState];
    if (!UPSTREAM_ADDRESS_PATTERN.test(address)) throw new UpstreamFileError(`${at} has an address that is not host:port`, raw);
    if (!LB_NAME_PATTERN.test(name)) throw new UpstreamFileError(`${at} has a server name outside ${LB_NAME_PATTERN}`, raw);
    if (seen.has(name)) throw new UpstreamFileError(`${at} names ${name} a second time`, raw);
    seen.add(name);
    // A ready server marked down (or the reverse) means someone edited the line by hand: refuse to guess.
    if ((admin === 'ready') === (down !== undefined))
      throw new UpstreamFileError(`${at} marks ${name} ${admin} but ${down ? 'has' : 'lacks'} "down"`, raw);
    return { kind: 'server', name, address, admin };
  });
}

export function renderServerLine(s: Omit<ServerLine, 'kind'>): string {
  if (!LB_NAME_PATTERN.test(s.name)) throw new Error(`unsafe server name ${JSON.stringify(s.name.slice(0, 80))}`);
  if (!UPSTREAM_ADDRESS_PATTERN.test(s.address)) throw new Error(`unsafe upstream address ${JSON.stringify(s.address.slice(0, 80))}`);
  return `server ${s.address}${s.admin === 'ready' ? '' : ' down'}; # bluegreen:${s.name} ${s.admin}`;
}

export function renderUpstreamFile(lines: UpstreamLine[]): string {
  return lines.map((l) => (l.kind === 'text' ? l.text : renderServerLine(l))).join('\n') + '\n';
}

/** A new file for a pool: every server in `servers` (name -> address) in `admin`, in that order. */
export function initialUpstreamFile(servers: Record<string, string>, admin: AdminState): string {
  const lines: UpstreamLine[] = [{ kind: 'text', text: FILE_HEADER }];
  for (const [name, address] of Object.entries(servers)) lines.push({ kind: 'server', name, address, admin });
  return renderUpstreamFile(lines);
}

/** The lines with `servers` set to `admin`; every other line as it was. */
export function withStates(lines: UpstreamLine[], servers: string[], admin: AdminState): UpstreamLine[] {
  const wanted = new Set(servers);
  return lines.map((l) => (l.kind === 'server' && wanted.has(l.name) ? { ...l, admin } : l));
}

/**
 * What nginx itself sees: address and up/down per server, markers and comments aside. Two files
 * with the same effect need no reload (drain -> maint only changes a marker).
 */
export function effectOf(lines: UpstreamLine[]): string {
  return lines
    .filter((l): l is ServerLine => l.kind === 'server')
    .map((l) => `${l.address}${l.admin === 'ready' ? '' : ' down'}`)
    .join('\n');
}
