// One adapter per `loadBalancer.type`: the worker (and the tools that read an LB) build the port
// here, so a third kind is one more case and one more adapter folder.
import type { LbConfig, LoadBalancer } from '../ports/lb';
import type { SshPort } from '../ports/ssh';
import { haproxyFromConfig } from './haproxy/load-balancer';
import { nginxFromConfig } from './nginx/nginx';

export interface LbAdapterDeps {
  /** The worker's SSH client: LBs reached over SSH use the same key and known_hosts as the hosts. */
  ssh: SshPort;
}

export function lbFromConfig(config: LbConfig, deps: LbAdapterDeps): LoadBalancer {
  switch (config.type) {
    case 'haproxy':
      return haproxyFromConfig(config);
    case 'nginx':
      return nginxFromConfig(config, deps.ssh);
    default: {
      const unknown: never = config;
      throw new Error(`unknown load balancer type ${JSON.stringify((unknown as { type?: unknown }).type)}`);
    }
  }
}
