// A worker's first deployment ran on a cold workflow thread: V8 compiled the workflow modules, zod
// and the SDK's activation path as they first ran, about 0.3-0.5 s of its first workflow tasks.
// The worker runs this once at start instead (src/worker-warm-up.ts): it evaluates the same
// modules and checks a plan of the same shape, then ends. No activity, no timer, no handler.
import { parsePlan } from '../plan/validate';
import { activityCaller } from './activity-calls';
import { initialStatus } from './state';

const host = (cluster: string, n: number) => ({
  name: `${cluster}-${n}`,
  ssh: { host: `${cluster}-${n}.warm-up.invalid`, port: 22, user: 'deploy' },
  healthUrl: `http://${cluster}-${n}.warm-up.invalid:8080/health`,
});

/** A plan that uses every common field, so parsing it goes through the paths a real one does. */
const SAMPLE_PLAN = {
  environment: 'warm-up',
  release: 'v2',
  currentRelease: 'v1',
  order: ['green', 'blue'],
  clusters: { green: { hosts: [host('green', 1), host('green', 2)] }, blue: { hosts: [host('blue', 1), host('blue', 2)] } },
  loadBalancer: {
    type: 'haproxy',
    runtimeApi: { socket: '/run/haproxy/admin.sock' },
    liveBackend: 'live',
    standbyBackend: 'standby',
    liveUrl: 'http://lb.warm-up.invalid',
    standbyUrl: 'http://lb.warm-up.invalid:8081',
  },
  commands: { install: 'deploy install {release}', currentRelease: 'deploy current', migrate: 'deploy migrate' },
  migration: { host: 'blue-1' },
  health: { path: '/health', timeoutSeconds: 60, intervalMs: 500 },
  smoke: [{ path: '/smoke', expectStatus: 200, expectBodyContains: '"ok":true', expectRelease: true }],
  gates: { promote: { enabled: true, timeoutSeconds: 3600, onTimeout: 'reject' }, migrate: { enabled: false } },
  parallelism: 2,
  drain: { deadlineSeconds: 30 },
};

/** Returns the number of hosts of the sample plan, so the work cannot be optimised away. */
export async function warmUpWorker(): Promise<number> {
  const plan = parsePlan(SAMPLE_PLAN);
  activityCaller(plan);
  return initialStatus(plan).clusters.reduce((n, c) => n + c.hosts.length, 0);
}
