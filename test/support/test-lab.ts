// Shared set-up for end-to-end tests: a real lab in a temp dir, real activities (ssh2, HAProxy, HTTP).
import fs from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { labDown, labUp, type Lab, type LabUpOptions } from '../../src/lab';
import { loadPlanInput } from '../../src/plan/load';
import type { PlanInput } from '../../src/plan/schema';
import { realDeps } from '../../src/worker-deps';
import { createActivities, type Activities } from '../../src/activities';
import { tempLabDir, testBasePort } from './lab-tools';

export interface TestLab {
  lab: Lab;
  plan: PlanInput;
  activities: Activities;
  down(): Promise<void>;
}

export async function startTestLab(
  slot: number,
  hostsPerCluster = 2,
  opts: Pick<LabUpOptions, 'slowLoginMs' | 'user' | 'lb'> = {},
): Promise<TestLab> {
  const dir = tempLabDir(`e2e${slot}`);
  const lab = await labUp({ dir, hostsPerCluster, basePort: testBasePort(slot), ...opts });
  let closeDeps = () => {};
  try {
    const plan = (await loadPlanInput(lab.planPath)) as PlanInput;
    const real = await realDeps({ sshKeyPath: lab.keyPath, knownHostsPath: lab.knownHostsPath });
    closeDeps = real.close;
    return {
      lab,
      plan,
      activities: createActivities(real.deps),
      down: async () => {
        closeDeps();
        await labDown(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    closeDeps();
    await labDown(dir);
    throw err;
  }
}

/** A lab for the file's tests: up before them, down after them; the object is filled in by then. */
export function useTestLab(...args: Parameters<typeof startTestLab>): TestLab {
  // Filled in place, so that the object the test file holds is the running lab.
  const t = {} as TestLab;
  beforeAll(async () => {
    Object.assign(t, await startTestLab(...args));
  });
  afterAll(async () => {
    await t.down?.();
  });
  return t;
}
