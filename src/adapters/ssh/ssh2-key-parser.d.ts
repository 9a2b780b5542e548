// ssh2's key parser on its own: the package's main file also loads its client, server and SFTP
// (30 ms of the worker's start), which the worker needs only at its first connection.
declare module 'ssh2/lib/protocol/keyParser.js' {
  import type { utils } from 'ssh2';

  const keyParser: { parseKey: typeof utils.parseKey };
  export default keyParser;
}
