// What workflow code needs of the plan besides its types, apart from the schema: importing the
// schema there would evaluate zod for every new workflow (see DESIGN.md).
import type { Plan } from './schema';

/** A release name: it ends up in shell commands, so only these characters. */
export const RELEASE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What a pool is called on this LB, for messages: "backend be_live" or "upstream file /etc/...". */
export function poolLabel(lb: Plan['loadBalancer'], pool: 'live' | 'standby'): string {
  if (lb.type === 'haproxy') return `${pool} backend ${pool === 'live' ? lb.liveBackend : lb.standbyBackend}`;
  return `${pool} upstream file ${pool === 'live' ? lb.liveUpstreamFile : lb.standbyUpstreamFile}`;
}
