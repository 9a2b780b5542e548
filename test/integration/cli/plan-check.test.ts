// bluegreen plan check on the real lab: preflight with the real activities (ssh2 with pinned host
// keys, HAProxy's Runtime API, HTTP health), reading only; it says what a run would change.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestLab } from '../../support/test-lab';
import { bg, tempDir, writePlan } from '../../support/cli';

const t = useTestLab(7);
let secrets: Record<string, string>;
beforeAll(async () => {
  secrets = { BG_SSH_KEY: t.lab.keyPath, BG_KNOWN_HOSTS: t.lab.knownHostsPath };
});

const pools = () => t.activities.readLoadBalancer(t.plan.loadBalancer as never);

describe('plan check', () => {
  it('passes on a fleet as the plan expects, lists every host and what a run would do, and changes nothing', async () => {
    const before = await pools();
    const r = await bg(['plan', 'check', t.lab.planPath], secrets);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const h of t.lab.hosts)
      expect(r.stdout).toMatch(new RegExp(`│ ${h.cluster} +│ ${h.name} +│ v1 +│ ready/UP +│ maint/MAINT +│ yes`));
    expect(r.stdout).toMatch(/Preflight passes; nothing was changed/);
    expect(r.stdout).toMatch(/green: drain .* install .* v1 → v2/);
    expect(r.stdout).toMatch(/run the migration for v2 on blue-1/);
    expect(await pools()).toEqual(before);
  });

  it("with a bake, reads HAProxy's per-server counters too and says each cluster will be baked", async () => {
    const plan = writePlan(tempDir('plan-check'), 'plan.json', {
      ...t.plan,
      bake: { seconds: 30, thresholds: { max5xxRatio: 0.01, minRequests: 50 } },
    });
    const r = await bg(['plan', 'check', plan], secrets);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/green: drain .* back into the live pool; bake 30 s \(roll back on a breach\)/);
  });

  it('refuses (exit 1) when the fleet differs from the plan, naming each host and the difference', async () => {
    const dir = tempDir('plan-check');
    const plan = writePlan(dir, 'plan.json', { ...t.plan, currentRelease: 'v0', release: 'v2' });
    const r = await bg(['plan', 'check', plan], secrets);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Preflight would refuse to start \(4 problems\); nothing was changed/);
    expect(r.stdout).toMatch(/green-1: runs release "v1", the plan expects "v0"/);
  });

  it("needs the worker's secrets: exit 2 and how to set them", async () => {
    const r = await bg(['plan', 'check', t.lab.planPath], { BG_SSH_KEY: '', BG_KNOWN_HOSTS: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/BG_SSH_KEY is not set/);
    expect(r.stderr).toMatch(/next: set BG_SSH_KEY and BG_KNOWN_HOSTS/);
  });
});
