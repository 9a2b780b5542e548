// The deployment plan: the only input of a run. The same schema runs in the CLI (before a run
// starts) and inside the workflow (for runs started straight from the Temporal CLI), so it must stay
// deterministic and free of Node APIs: it is bundled into the workflow sandbox.
import { z } from 'zod';
import { TemplateError, parseCommandTemplate } from './command-template';
import { RELEASE_PATTERN } from './names';
import { LB_FILE_PATTERN, LB_NAME_PATTERN, UPSTREAM_ADDRESS_PATTERN } from './patterns';

export { RELEASE_PATTERN, poolLabel } from './names';
export { LB_FILE_PATTERN, LB_NAME_PATTERN, UPSTREAM_ADDRESS_PATTERN };

// Values that end up in shell commands, HAProxy commands or workflow ids are held to strict
// patterns here (and in names.ts and patterns.ts), so nothing hostile gets past the plan.
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
// Starts with a letter or digit (a leading "-" could pass for an option to some tool), or is an IP.
const HOSTNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$|^\[?[0-9A-Fa-f:.]{2,45}\]?$/;
const USER_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/;

const lbName = (what: string) => z.string().regex(LB_NAME_PATTERN, { message: `${what} (1-64 letters, digits, ".", "_", ":", "-")` });
const release = z.string().regex(RELEASE_PATTERN, {
  message: 'a release: 1-64 characters of letters, digits, ".", "_", "-", starting with a letter or digit',
});
const seconds = (max: number) =>
  z
    .number()
    .int({ message: 'whole seconds' })
    .min(1, { message: 'at least 1 second' })
    .max(max, { message: `at most ${max} seconds` });
// Port 0 parses as a URL but no server listens there: a plan with it would only fail at the first check.
const httpUrl = z
  .url({ protocol: /^https?$/, message: 'an http:// or https:// URL' })
  .refine((u) => portOf(u) !== '0', { message: 'an http:// or https:// URL with a port from 1 to 65535' });
function portOf(url: string): string | undefined {
  try {
    return new URL(url).port;
  } catch {
    return undefined; // z.url already said why
  }
}
const urlPath = z.string().regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,200}$/, { message: 'a path starting with "/"' });

const sshTarget = z.strictObject({
  host: z.string().regex(HOSTNAME_PATTERN, { message: 'a hostname or IP address' }),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(USER_PATTERN, { message: 'a Unix user name' }),
});

const host = z.strictObject({
  name: lbName('the server name in the load balancer'),
  ssh: sshTarget,
  healthUrl: httpUrl,
});

const cluster = z.strictObject({
  hosts: z.array(host).min(1, { message: 'at least one host' }).max(500),
});

const gate = z.strictObject({
  enabled: z.boolean(),
  timeoutSeconds: seconds(30 * 24 * 3600).default(24 * 3600),
  onTimeout: z.enum(['reject', 'wait']).default('reject'),
  approvers: z.array(z.string().min(1).max(100)).min(1).optional(),
});
const disabledGate = { enabled: false, timeoutSeconds: 24 * 3600, onTimeout: 'reject' as const };

// Validation reads the template with the renderer's own parser: a plan that validates can be rendered.
const command = (placeholders: string[]) =>
  z
    .string()
    .min(1)
    .max(1000)
    .superRefine((s, ctx) => {
      if (/[\n\r\0]/.test(s)) return ctx.addIssue({ code: 'custom', message: 'a single line' });
      try {
        parseCommandTemplate(s, placeholders);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.expected });
      }
    });

const smokeTest = z
  .strictObject({
    path: urlPath,
    expectStatus: z.number().int().min(100).max(599).optional(),
    expectBodyContains: z.string().min(1).max(1000).optional(),
    expectRelease: z.boolean().optional(),
    timeoutSeconds: seconds(300).default(10),
  })
  .refine((t) => t.expectStatus !== undefined || t.expectBodyContains !== undefined || t.expectRelease === true, {
    message: 'at least one expectation in a smoke test (expectStatus, expectBodyContains or expectRelease: true)',
  });

/** What a run can tell a webhook (README: Notifications); the JSON body's `event` field. */
export const NOTIFY_EVENTS = [
  'run-started',
  'gate-pending',
  'gate-decided',
  'step-failed',
  'rollback-started',
  'rollback-finished',
  'outcome',
] as const;
export type NotifyEventName = (typeof NOTIFY_EVENTS)[number];

// A webhook is named, never addressed: its URL is a secret the worker reads from its environment
// (README: Notifications), so no URL can reach workflow input or history. `url` is refused by the
// strict object, and validate.ts refuses it without echoing the value.
const webhook = z.strictObject({
  name: z.string().regex(NAME_PATTERN, {
    message: 'a webhook name: lowercase letters, digits and "-", up to 40 (its URL is BLUEGREEN_WEBHOOK_<NAME> on the worker)',
  }),
  format: z.enum(['slack', 'json']).default('json'),
  events: z.array(z.enum(NOTIFY_EVENTS)).min(1, { message: 'at least one event (or no "events" for all of them)' }).optional(),
  timeoutSeconds: seconds(30).default(5),
});
/**
 * Samples a bake may take: each costs a timer and an activity (about 11 history events), so a window
 * of 200 samples stays near 2,200 events per cluster, far below Temporal's 51,200.
 */
export const MAX_BAKE_SAMPLES = 200;
/**
 * Each sample's reading (about 150 bytes per server) is an activity result in the history: samples
 * times the servers of a cluster stay under this, about 3 MB of history per cluster's window.
 */
export const MAX_BAKE_READINGS = 20_000;
/** The default samples per window: within MAX_BAKE_READINGS even for a cluster of 500 servers. */
const DEFAULT_BAKE_SAMPLES = 40;

// After a cluster goes live, its servers are watched through the LB's own per-server counters
// (workflows/bake-rules.ts); a breach rolls the run back.
const bake = z
  .strictObject({
    seconds: seconds(24 * 3600),
    // Whole seconds: HAProxy's counters move per request, and each sample is a few history events.
    sampleSeconds: seconds(600).optional(),
    thresholds: z.strictObject({
      max5xxRatio: z
        .number()
        .min(0, { message: 'a ratio from 0 to below 1 (0.01 is 1%)' })
        .lt(1, { message: 'a ratio from 0 to below 1 (0.01 is 1%; 1 would never breach)' }),
      minRequests: z.number().int({ message: 'a whole number of responses' }).min(1, { message: 'at least 1 response' }).max(1_000_000_000),
      maxResponseMs: z.number().int({ message: 'whole milliseconds' }).min(1, { message: 'at least 1 ms' }).max(600_000).optional(),
      anyServerDown: z.boolean().default(true),
    }),
  })
  // One sample a second for short windows, at most 40 samples for long ones, unless the plan says.
  .transform((b) => ({ ...b, sampleSeconds: b.sampleSeconds ?? Math.max(1, Math.ceil(b.seconds / DEFAULT_BAKE_SAMPLES)) }));

const haproxyLb = z.strictObject({
  type: z.literal('haproxy'),
  runtimeApi: z.union([
    z.strictObject({ socket: z.string().regex(/^\/[^\0\n]{0,200}$/, { message: 'an absolute socket path' }) }),
    z.strictObject({
      host: z.string().regex(HOSTNAME_PATTERN, { message: 'a hostname or IP address' }),
      port: z.number().int().min(1).max(65535),
    }),
  ]),
  liveBackend: lbName('a backend name'),
  standbyBackend: lbName('a backend name'),
  liveUrl: httpUrl.optional(),
  standbyUrl: httpUrl,
});

const lbFile = z
  .string()
  .regex(LB_FILE_PATTERN, { message: 'an absolute path of letters, digits, ".", "_", "-", "/"' })
  .refine((f) => !f.split('/').includes('..'), { message: 'an absolute path without ".."' });
const upstreamAddress = z
  .string()
  .regex(UPSTREAM_ADDRESS_PATTERN, { message: 'host:port (a hostname, IPv4 or [IPv6] address, and a port)' })
  .refine((a) => !UPSTREAM_ADDRESS_PATTERN.test(a) || Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, {
    message: 'host:port with a port from 1 to 65535',
  });

const nginxLb = z.strictObject({
  type: z.literal('nginx'),
  /** The LB host, reached over SSH with the same key and known_hosts as the app hosts. */
  ssh: sshTarget,
  liveUpstreamFile: lbFile,
  standbyUpstreamFile: lbFile,
  /** Where nginx sends each host's traffic: server name -> host:port. */
  servers: z.record(lbName('a server name'), upstreamAddress),
  /** nginx's pid file: the master whose workers show a reload and a drain. */
  pidFile: lbFile.default('/run/nginx.pid'),
  testCommand: command([]).default('nginx -t'),
  reloadCommand: command([]).default('nginx -s reload'),
  /** nginx (open source) has no active health checks: bluegreen asks each ready server here. */
  healthPath: urlPath.default('/health'),
  liveUrl: httpUrl.optional(),
  standbyUrl: httpUrl,
});

const loadBalancer = z.discriminatedUnion('type', [haproxyLb, nginxLb]);

const planShape = z.strictObject({
  environment: z.string().regex(NAME_PATTERN, { message: 'an environment name: lowercase letters, digits and "-", up to 40' }),
  release,
  currentRelease: release,
  order: z.array(z.string()).min(2, { message: 'at least two clusters' }),
  clusters: z.record(z.string().regex(NAME_PATTERN, { message: 'a cluster name: lowercase letters, digits and "-"' }), cluster),
  loadBalancer: loadBalancer,
  commands: z.strictObject({
    install: command(['release']),
    currentRelease: command([]),
    migrate: command(['release']).optional(),
  }),
  migration: z.strictObject({ host: lbName('a host name') }).optional(),
  health: z
    .strictObject({
      // Health is checked at each host's healthUrl; `path` only restates its path (checked below).
      path: urlPath.optional(),
      timeoutSeconds: seconds(3600).default(120),
      intervalMs: z.number().int().min(100).max(60_000).default(1000),
    })
    .default({ timeoutSeconds: 120, intervalMs: 1000 }),
  smoke: z.array(smokeTest).min(1, { message: 'at least one smoke test' }).max(50),
  // How every host of the cluster is shown to pass the smoke tests (README "Smoke tests").
  smokeCoverage: z
    .strictObject({
      mode: z.enum(['auto', 'pool', 'direct']).default('auto'),
      responderHeader: z
        .string()
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, { message: 'an HTTP header name' })
        .default('X-Server'),
    })
    .optional(),
  gates: z
    .strictObject({ promote: gate.default(disabledGate), migrate: gate.default(disabledGate) })
    .default({ promote: disabledGate, migrate: disabledGate }),
  parallelism: z.number().int().min(1, { message: 'at least 1' }).max(64, { message: 'at most 64' }).default(2),
  drain: z.strictObject({ deadlineSeconds: seconds(3600).default(120) }).default({ deadlineSeconds: 120 }),
  notify: z.array(webhook).max(10, { message: 'at most 10 webhooks' }).optional(),
  bake: bake.optional(),
});

export const planSchema = planShape.superRefine((plan, ctx) => crossCheck(plan, ctx));

/**
 * A plan as recovery reads it (`recoverFleet`): the same rules, except that release and
 * currentRelease may be equal. Recovery ignores both (its target is an argument of its own), so a
 * plan written to redeploy the current release must not be refused there; a deployment still refuses it.
 */
export const recoveryPlanSchema = planShape.superRefine((plan, ctx) => crossCheck(plan, ctx, { sameRelease: true }));

export type Plan = z.output<typeof planSchema>;
export type PlanInput = z.input<typeof planSchema>;
export type Host = Plan['clusters'][string]['hosts'][number];
export type SmokeTest = Plan['smoke'][number];
export type GateConfig = Plan['gates']['promote'];
export type Webhook = NonNullable<Plan['notify']>[number];
export type BakeConfig = NonNullable<Plan['bake']>;

type RawPlan = z.output<typeof planShape>;

function crossCheck(plan: RawPlan, ctx: z.RefinementCtx, allow: { sameRelease?: boolean } = {}): void {
  const clusterNames = Object.keys(plan.clusters);
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });

  if (clusterNames.length < 2) issue(['clusters'], 'at least two clusters (e.g. blue and green)');
  const seen = new Set<string>();
  plan.order.forEach((name, i) => {
    if (!plan.clusters[name]) issue(['order', i], `a cluster defined under clusters (${clusterNames.join(', ')})`);
    else if (seen.has(name)) issue(['order', i], `each cluster once; "${name}" is repeated`);
    seen.add(name);
  });
  for (const name of clusterNames) if (!seen.has(name)) issue(['order'], `every cluster in the order; "${name}" is missing`);

  checkLoadBalancer(plan, issue);
  if (!allow.sameRelease && plan.release === plan.currentRelease)
    issue(['release'], `a release different from currentRelease ("${plan.currentRelease}")`);

  const names = new Map<string, string>();
  const endpoints = new Map<string, string>();
  for (const [clusterName, c] of Object.entries(plan.clusters)) {
    c.hosts.forEach((h, i) => {
      const where = `${clusterName}.hosts[${i}]`;
      const prevName = names.get(h.name);
      if (prevName) issue(['clusters', clusterName, 'hosts', i, 'name'], `a unique host name; "${h.name}" is also ${prevName}`);
      names.set(h.name, where);
      const endpoint = `${h.ssh.user}@${h.ssh.host}:${h.ssh.port}`;
      const prevEndpoint = endpoints.get(endpoint);
      if (prevEndpoint)
        issue(['clusters', clusterName, 'hosts', i, 'ssh'], `a host in one place only; ${endpoint} is also ${prevEndpoint}`);
      endpoints.set(endpoint, where);
    });
  }
  const healthPath = plan.health.path;
  const elsewhere =
    healthPath === undefined
      ? undefined
      : allHosts(plan).find((h) => {
          const p = pathOf(h.healthUrl);
          return p !== undefined && p !== healthPath;
        });
  if (elsewhere) {
    // An operator who sets health.path expects it to be what is checked; it never was: refuse the mismatch.
    issue(
      ['health', 'path'],
      `the path of every host's healthUrl, or no health.path (each host is checked at its healthUrl; ${elsewhere.name}'s is ${elsewhere.healthUrl})`,
    );
  }
  if (plan.bake) {
    const b = plan.bake;
    // Only HAProxy counts responses per server (show stat); another LB kind has nothing to bake on.
    const type: string = plan.loadBalancer.type;
    if (type !== 'haproxy')
      issue(
        ['bake'],
        `no bake with loadBalancer.type "${type}": the bake reads HAProxy's per-server counters, which this load balancer does not offer`,
      );
    const largest = Math.max(...Object.values(plan.clusters).map((c) => c.hosts.length));
    const bySize = Math.floor(MAX_BAKE_READINGS / largest);
    const most = Math.min(MAX_BAKE_SAMPLES, bySize);
    if (b.sampleSeconds > b.seconds) issue(['bake', 'sampleSeconds'], `at most bake.seconds (${b.seconds})`);
    else if (Math.ceil(b.seconds / b.sampleSeconds) > most)
      issue(
        ['bake', 'sampleSeconds'],
        `at least ${Math.ceil(b.seconds / most)} for a ${b.seconds} s bake (at most ${most} samples per window keep the run's history bounded` +
          (bySize < MAX_BAKE_SAMPLES
            ? `: each reads all ${largest} servers of the largest cluster, and ${MAX_BAKE_READINGS} server readings per window is the limit)`
            : ')'),
      );
  }
  if (plan.migration && !names.has(plan.migration.host))
    issue(['migration', 'host'], `the name of a host in the plan; "${plan.migration.host}" is not one`);
  const hooks = new Map<string, number>();
  plan.notify?.forEach((w, i) => {
    const prev = hooks.get(w.name);
    if (prev !== undefined) issue(['notify', i, 'name'], `a unique webhook name; "${w.name}" is also notify[${prev}]`);
    hooks.set(w.name, i);
    const dup = w.events?.find((e, j) => w.events?.indexOf(e) !== j);
    if (dup) issue(['notify', i, 'events'], `each event once; "${dup}" is repeated`);
  });
  if (plan.migration && !plan.commands.migrate) issue(['commands', 'migrate'], 'a migrate command, since migration is set');
  if (plan.commands.migrate && !plan.migration) issue(['migration'], 'the host to run the migrate command on');
}

function checkLoadBalancer(plan: RawPlan, issue: (path: (string | number)[], message: string) => void): void {
  const lb = plan.loadBalancer;
  if (lb.type === 'haproxy') {
    if (lb.liveBackend === lb.standbyBackend) issue(['loadBalancer', 'standbyBackend'], 'a backend different from liveBackend');
    return;
  }
  if (lb.liveUpstreamFile === lb.standbyUpstreamFile)
    issue(['loadBalancer', 'standbyUpstreamFile'], 'a file different from liveUpstreamFile');
  // nginx learns every address from the plan: each host needs one, and nothing else may be written.
  const hosts = new Set(allHosts(plan).map((h) => h.name));
  for (const name of hosts) if (!(name in lb.servers)) issue(['loadBalancer', 'servers'], `an address for every host; "${name}" has none`);
  for (const name of Object.keys(lb.servers))
    if (!hosts.has(name)) issue(['loadBalancer', 'servers', name], `the name of a host in the plan; "${name}" is not one`);
}

function allHosts(plan: RawPlan): Host[] {
  return Object.values(plan.clusters).flatMap((c) => c.hosts);
}

function pathOf(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}
