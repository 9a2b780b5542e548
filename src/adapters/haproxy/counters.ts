// HAProxy's per-server response counters from `show stat BACKEND 4 -1` (management guide, 9.1 CSV
// format): hrsp_1xx..hrsp_other and econ/eresp are cumulative since the process started; rtime is
// the average response time over the server's last 1024 requests. req_tot has no per-server value
// (it is [.FB.]), so the responses are the sum of the hrsp_* columns. Strict like the other parsers:
// a reply without these columns is an LbProtocolError, never zeros.
import { LbProtocolError, replyStart, type ServerCounters } from '../../ports/lb';
import { splitCsvLine } from './runtime-api';

const RESPONSE_COLUMNS = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'] as const;
const NUMBER_COLUMNS = [...RESPONSE_COLUMNS, 'econ', 'eresp', 'rtime'] as const;

/** Parses an already checked `show stat` reply (parseShowStat has vetted its shape and rows). */
export function parseServerCounters(where: string, backend: string, reply: string): ServerCounters[] {
  const bad = (problem: string) => new LbProtocolError(where, problem, replyStart(reply));
  const lines = reply.slice(2, -2).split('\n');
  const header = splitCsvLine(lines[0] ?? '') ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw bad(`CSV header has no "${name}" column (HAProxy in HTTP mode has it)`);
    return i;
  };
  const sv = col('svname');
  const status = col('status');
  const check = col('check_status');
  const nums = Object.fromEntries(NUMBER_COLUMNS.map((n) => [n, col(n)])) as Record<(typeof NUMBER_COLUMNS)[number], number>;
  return lines.slice(1).map((line, n) => {
    const f = splitCsvLine(line) ?? [];
    const num = (name: (typeof NUMBER_COLUMNS)[number]) => {
      const v = f[nums[name]] ?? '';
      // An empty field is a counter HAProxy does not keep for this row (e.g. rtime in TCP mode).
      if (v === '') return 0;
      if (!/^\d{1,15}$/.test(v)) throw bad(`row ${n + 1} (${backend}/${f[sv]}) has ${name} ${JSON.stringify(v)}`);
      return Number(v);
    };
    return {
      server: f[sv] ?? '',
      status: f[status] ?? '',
      // "* L7OK": HAProxy marks a check in progress with "* ".
      checkStatus: (f[check] ?? '').replace(/^\* /, ''),
      responses: RESPONSE_COLUMNS.reduce((sum, c) => sum + num(c), 0),
      r5xx: num('hrsp_5xx'),
      errors: num('econ') + num('eresp'),
      rtimeMs: num('rtime'),
    };
  });
}
