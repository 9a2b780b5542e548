// What the activities need from the outside world, one port each (src/ports/). The worker hands in
// the real adapters (src/adapters/); unit tests may hand in fakes with the same shape.
import type { HttpPort } from '../ports/http';
import type { LbPort } from '../ports/lb';
import type { SshPort } from '../ports/ssh';
import type { WebhookPort } from '../ports/webhooks';

export interface ActivityDeps {
  ssh: SshPort;
  lb: LbPort;
  http: HttpPort;
  /** Webhook URLs (secrets, the worker's) and delivery; absent: every webhook reports it is not configured. */
  webhooks?: WebhookPort;
}
