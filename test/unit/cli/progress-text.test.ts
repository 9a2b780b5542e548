// How `status` words a running step's live progress; and that older heartbeat details still read.
import { describe, expect, it } from 'vitest';
import { isDeployProgress } from '../../../src/activities/types';
import { progressOf } from '../../../src/cli/progress-of';
import { progressText } from '../../../src/cli/status-view';
import type { DeploymentStatus } from '../../../src/workflows/state';

const status = (over: Partial<DeploymentStatus> = {}): DeploymentStatus =>
  ({
    environment: 'prod',
    release: 'v2',
    fromRelease: 'v1',
    step: 'deploy',
    cluster: 'green',
    paused: false,
    abortRequested: false,
    migrated: false,
    clusters: [
      {
        name: 'green',
        phase: 'deploying',
        hosts: ['g-1', 'g-2', 'g-3'].map((name) => ({ name, cluster: 'green', pool: 'standby', release: 'v1', phase: 'deploying' })),
      },
    ],
    decisions: [],
    steps: [],
    ...over,
  }) as DeploymentStatus;

const now = new Date('2026-11-27T12:00:10Z');

describe('live progress wording', () => {
  it('names hosts done of the total, those in flight and failed, and how old the heartbeat is', () => {
    const p = {
      activity: 'deployHosts',
      cluster: 'green',
      done: 1,
      total: 3,
      inFlight: ['g-2'],
      failed: ['g-3'],
      attempt: 2,
      lastHeartbeat: '2026-11-27T12:00:08Z',
    };
    expect(progressText(p, status(), now)).toBe(
      'deploy green: 1/3 hosts healthy on v2; in flight: g-2; failed: g-3 (attempt 2, heartbeat 2.0s ago)',
    );
  });

  it('reads details from workers before this change (done only): total from the status, the cluster from the step', () => {
    const old = { done: ['g-1'] };
    expect(isDeployProgress(old)).toBe(true);
    expect(progressText({ activity: 'deployHosts', done: old.done.length, inFlight: [], failed: [], attempt: 1 }, status(), now)).toBe(
      'deploy green: 1/3 hosts healthy on v2',
    );
  });

  it('during a rollback, counts hosts healthy on the previous release', () => {
    const p = { activity: 'deployHosts', cluster: 'green', done: 2, total: 3, inFlight: [], failed: [], attempt: 1 };
    expect(progressText(p, status({ step: 'rollback' }), now)).toBe('deploy green: 2/3 hosts healthy on v1');
  });

  it('verify before its smoke tests: the hosts not UP in the standby pool yet, with their status', () => {
    const p = progressOf('smokeTest', 1, undefined, {
      pool: [0],
      covered: {},
      direct: [],
      notUp: { 'green-1': 'UP 1/2', 'green-2': 'DOWN' },
    });
    expect(p && progressText(p, status({ step: 'verify' }), now)).toBe(
      'verify green: waiting for UP in the standby pool: green-1 (UP 1/2), green-2 (DOWN)',
    );
    // Once all are UP the field is gone, and the smoke count shows again.
    const later = progressOf('smokeTest', 1, undefined, { pool: [4], covered: {}, direct: [] });
    expect(later && progressText(later, status({ step: 'verify' }), now)).toBe(
      'verify green: 4 smoke requests passed through the standby pool',
    );
  });

  it('smoke tests: requests passed through the pool and hosts tested directly', () => {
    const p = { activity: 'smokeTest', done: 40, direct: 2, inFlight: [], failed: [], attempt: 1 };
    expect(progressText(p, status({ step: 'verify' }), now)).toBe(
      'verify green: 40 smoke requests passed through the standby pool, 2 hosts tested directly',
    );
  });
});
