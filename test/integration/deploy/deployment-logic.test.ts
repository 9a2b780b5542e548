// The workflow's logic on a real Temporal server, with an in-memory fleet standing in for hosts and LB.
import { describe, expect, it } from 'vitest';
import { FakeFleet } from '../../support/fake-fleet';
import { runOnFakeFleet } from '../../support/runs';
import { useTemporal } from '../../support/temporal';

const temporal = useTemporal();

const HOSTS = ['green-1', 'green-2', 'blue-1', 'blue-2'];

const run = (fleet: FakeFleet, plan: unknown) => runOnFakeFleet(temporal, fleet, plan);

describe('preflight (step 0)', () => {
  it('refuses to start when a host runs another release, names the host, and changes nothing', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    fleet.releases.set('blue-2', 'v0');
    const { error } = await run(fleet, fleet.plan());
    expect(error?.cause?.message).toMatch(/Preflight refused/);
    expect(error?.cause?.message).toMatch(/blue-2 runs release "v0", the plan expects "v1"/);
    expect(fleet.changes).toEqual([]);
  });

  it('refuses to start when a host is not UP in the live pool', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    fleet.pools.live.get('green-2')!.admin = 'maint';
    const { error } = await run(fleet, fleet.plan());
    expect(error?.cause?.message).toMatch(/green-2 is not UP in the live pool \(admin maint/);
    expect(fleet.changes).toEqual([]);
  });

  it('fails at once on a plan that breaks the schema, naming the field, and contacts nothing', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { error } = await run(fleet, { ...fleet.plan(), parallelism: 0, order: ['green', 'green'] });
    expect(error?.cause?.message).toMatch(/plan\.parallelism: expected at least 1, found 0/);
    expect(error?.cause?.message).toMatch(/plan\.order\[1\]: expected each cluster once/);
    expect(fleet.contacted).toEqual([]);
  });
});

describe('the six steps', () => {
  it('moves each cluster through standby, deploy, verify and live in order, green first', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { result, error } = await run(fleet, fleet.plan());
    expect(error).toBeUndefined();
    expect(result?.outcome).toBe('succeeded');
    expect(result?.steps.map((s) => `${s.step}${s.cluster ? `:${s.cluster}` : ''}`)).toEqual([
      'preflight',
      'standby:green',
      'deploy:green',
      'verify:green',
      'live:green',
      'standby:blue',
      'deploy:blue',
      'verify:blue',
      'live:blue',
      'migrate',
    ]);
    expect([...fleet.releases.values()]).toEqual(['v2', 'v2', 'v2', 'v2']);
    for (const h of HOSTS) {
      expect(fleet.pools.live.get(h)?.admin).toBe('ready');
      expect(fleet.pools.standby.get(h)?.admin).toBe('maint');
    }
    // Green was fully back in the live pool before blue was drained.
    const greenLive = fleet.changes.indexOf('lb:live:green-2:ready');
    const blueDrain = fleet.changes.indexOf('lb:live:blue-1:drain');
    expect(greenLive).toBeGreaterThan(-1);
    expect(blueDrain).toBeGreaterThan(greenLive);
  });

  it('holds each host in maintenance in the standby pool while it installs, and makes it ready once healthy', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    const { result } = await run(fleet, fleet.plan());
    expect(result?.outcome).toBe('succeeded');
    for (const h of HOSTS) {
      // HAProxy's checks never meet the restart: the server is out of rotation from just before it.
      expect(fleet.changes.filter((c) => c.startsWith(`lb:standby:${h}:`) || c.startsWith(`install:${h}:`))).toEqual([
        `lb:standby:${h}:ready`, // step 1: into standby
        `lb:standby:${h}:maint`, // step 2: held while it installs
        `install:${h}:v2`,
        `lb:standby:${h}:ready`, // healthy on v2: back for the smoke tests
        `lb:standby:${h}:maint`, // step 4: out of standby once live
      ]);
    }
  });

  it('rolls a cluster whose smoke test fails back to the previous release and ends rolled back', async () => {
    const fleet = new FakeFleet(HOSTS, 'v1');
    fleet.smokeRelease = 'v1'; // the standby pool keeps answering with the old release
    const { result, error } = await run(fleet, fleet.plan());
    expect(error?.cause?.message).toMatch(/smoke test GET \/smoke through the standby pool failed/);
    expect(result?.outcome).toBe('rolled-back');
    expect(result?.hosts.every((h) => h.release === 'v1' && h.pool === 'live')).toBe(true);
    expect([...fleet.releases.values()]).toEqual(['v1', 'v1', 'v1', 'v1']);
    expect(fleet.changes.some((c) => c.startsWith('lb:live:blue'))).toBe(false);
  });
});
