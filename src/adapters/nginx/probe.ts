// nginx (open source) has no active health checks and no per-server status. A ready server's
// status is therefore asked here: GET its health path at the very address nginx proxies to.
import http from 'node:http';

export type Probe = (address: string, path: string, timeoutMs: number) => Promise<string>;

/** "UP" on a 2xx answer, else "DOWN (why)". Never rejects. */
export const httpProbe: Probe = (address, path, timeoutMs) =>
  new Promise((resolve) => {
    const url = `http://${address}${path}`;
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 300 ? 'UP' : `DOWN (HTTP ${status})`);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`DOWN (${e.code ?? e.message})`));
  });
