// What an operator sees of a bake in `bluegreen status` and on deploy --wait's progress line.
import { describe, expect, it } from 'vitest';
import { renderStatus, statusLine } from '../../../src/cli/status-view';
import type { RunView } from '../../../src/cli/run-view';
import { initialStatus, type BakeRecord, type DeploymentStatus } from '../../../src/workflows/state';
import { parsePlan } from '../../../src/plan/validate';
import { FakeFleet } from '../../support/fake-fleet';

const now = new Date('2026-11-27T12:00:30Z');
const plan = parsePlan(
  new FakeFleet(['green-1', 'green-2', 'blue-1'], 'v1').plan({
    bake: { seconds: 60, sampleSeconds: 2, thresholds: { max5xxRatio: 0.01, minRequests: 100 } },
  }),
);
const fig = (server: string, responses: number, r5xx: number, resets = 0) => ({
  server,
  responses,
  r5xx,
  errors: 0,
  ratio5xx: responses ? r5xx / responses : 0,
  rtimeMs: 4,
  status: 'UP',
  checkStatus: 'L7OK',
  resets,
});

function statusBaking(): DeploymentStatus {
  const s = initialStatus(plan);
  s.step = 'bake';
  s.cluster = 'green';
  const bake: BakeRecord = {
    cluster: 'green',
    seconds: 60,
    sampleSeconds: 2,
    thresholds: plan.bake!.thresholds,
    startedAt: '2026-11-27T12:00:08Z',
    watchFrom: '2026-11-27T12:00:10Z',
    samples: 10,
    lastSampleAt: '2026-11-27T12:00:30Z',
    outcome: 'running',
    note: '90 responses, fewer than minRequests (100): the 5xx ratio is not judged',
    servers: [fig('green-1', 50, 0), fig('green-2', 40, 1, 1)],
  };
  s.bakes = [bake];
  return s;
}

describe('a bake in the status', () => {
  it('shows the window, the samples, the worst server, the limit, and each server’s figures', () => {
    const view: RunView = {
      environment: 'fake',
      workflowId: 'bluegreen-fake',
      runId: 'r1',
      temporalStatus: 'RUNNING',
      startTime: '2026-11-27T12:00:00Z',
      link: 'http://web',
      status: statusBaking(),
    };
    const text = renderStatus(view, now);
    expect(text).toContain('step: bake (green)');
    expect(text).toContain(
      'green: 20 of 60 s, 10 samples; 90 responses; worst green-2: 5xx 2.5% of 40, rtime 4 ms, UP (limit 5xx 1% once 100 responses)',
    );
    expect(text).toContain('fewer than minRequests (100)');
    expect(text).toMatch(/green-2 +│? *40 +│? *1 +│? *2.5% .*L7OK \(1 counter reset\)/);
  });

  it('puts the bake on the one-line progress of deploy --wait', () => {
    expect(statusLine(statusBaking())).toMatch(
      /^bake \(green\): 0\/3 hosts on v2; bake \d+ of 60 s, 10 samples; 90 responses; worst green-2: 5xx 2.5% of 40/,
    );
  });
});
