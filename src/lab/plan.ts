// plan.json: the deployment plan for the lab's fleet, in the shape of src/plan/schema.ts.
import fs from 'node:fs';
import { CLUSTERS, labPaths, type Lab } from './layout';
import { NGINX, upstreamServers } from './nginx';

/** The plan's loadBalancer block for the lab's LB. */
function loadBalancer(lab: Lab) {
  if (!lab.lbHost) {
    return {
      type: 'haproxy',
      runtimeApi: { socket: lab.haproxySocket },
      liveBackend: 'live',
      standbyBackend: 'standby',
      liveUrl: lab.liveUrl,
      standbyUrl: lab.standbyUrl,
    };
  }
  const p = labPaths(lab.dir);
  return {
    type: 'nginx',
    ssh: { host: '127.0.0.1', port: lab.lbHost.sshPort, user: lab.user },
    liveUpstreamFile: p.liveUpstream,
    standbyUpstreamFile: p.standbyUpstream,
    servers: upstreamServers(lab),
    pidFile: p.nginxPid,
    testCommand: `${NGINX} -t -q -c '${p.nginxConf}'`,
    reloadCommand: `${NGINX} -s reload -c '${p.nginxConf}'`,
    healthPath: '/health',
    liveUrl: lab.liveUrl,
    standbyUrl: lab.standbyUrl,
  };
}

export function labPlan(lab: Lab) {
  const clusters = Object.fromEntries(
    CLUSTERS.map((c) => [
      c,
      {
        hosts: lab.hosts
          .filter((h) => h.cluster === c)
          .map((h) => ({
            name: h.name,
            ssh: { host: '127.0.0.1', port: h.sshPort, user: lab.user },
            healthUrl: `http://127.0.0.1:${h.appPort}/health`,
          })),
      },
    ]),
  );
  return {
    environment: 'lab',
    release: 'v2',
    currentRelease: 'v1',
    order: ['green', 'blue'],
    clusters,
    loadBalancer: loadBalancer(lab),
    commands: {
      install: `${lab.hostScript} install {release}`,
      currentRelease: `${lab.hostScript} current`,
      migrate: `${lab.hostScript} migrate`,
    },
    migration: { host: lab.hosts.find((h) => h.cluster === 'blue')!.name },
    health: { path: '/health', timeoutSeconds: 60, intervalMs: 500 },
    smoke: [{ path: '/smoke', expectStatus: 200, expectBodyContains: '"ok":true', expectRelease: true }],
    gates: {
      promote: { enabled: false, timeoutSeconds: 3600, onTimeout: 'reject' },
      migrate: { enabled: false, timeoutSeconds: 3600, onTimeout: 'reject' },
    },
    parallelism: 2,
    drain: { deadlineSeconds: 30 },
  };
}

export function writePlan(lab: Lab): void {
  fs.writeFileSync(lab.planPath, JSON.stringify(labPlan(lab), null, 2) + '\n');
}
