// The bench compares medians over rounds: how phases are ordered and how the ratio is formed.
import { describe, expect, it } from 'vitest';
import { defaultRounds, phaseOrder } from '../../../scripts/bench/case';
import { addComparison, median, type CaseReport, type Phase, type Runner } from '../../../scripts/bench/report';

const phase = (runner: Runner, wallMs: number, preflight: number, failedRequests = 0): Phase => ({
  runner,
  from: 'v1',
  to: 'v2',
  run: { outcome: 'succeeded', wallMs, steps: { preflight }, peakRssMb: 100 },
  requests: 100,
  failedRequests,
  lostWrites: 0,
  failureSamples: [],
  fleetProblems: [],
});

const report = (phases: Phase[], hostsPerCluster = 25): CaseReport => ({
  case: 'x',
  hostsPerCluster,
  hosts: hostsPerCluster * 2,
  parallelism: 4,
  slowLoginMs: 0,
  rps: 200,
  order: ['bluegreen', 'baseline'],
  rounds: 3,
  phases,
});

describe('bench report', () => {
  it('alternates which runner goes first, round by round', () => {
    expect(phaseOrder(['bluegreen', 'baseline'], 3)).toEqual(['bluegreen', 'baseline', 'baseline', 'bluegreen', 'bluegreen', 'baseline']);
    expect(phaseOrder(['baseline'], 2)).toEqual(['baseline', 'baseline']);
  });

  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('compares the medians of each runner, and keeps each round’s own ratio', () => {
    const r = addComparison(
      report([
        phase('bluegreen', 3000, 900),
        phase('baseline', 2000, 800),
        phase('baseline', 2500, 700),
        phase('bluegreen', 9000, 1200),
        phase('bluegreen', 2600, 950),
        phase('baseline', 2100, 750),
      ]),
    );
    expect(r.medians?.bluegreen?.wallMs).toBe(3000);
    expect(r.medians?.baseline?.wallMs).toBe(2100);
    expect(r.ratio?.wall).toBe(1.429);
    expect(r.ratio?.perRound).toEqual([1.5, 3.6, 1.238]);
    expect(r.targets).toMatchObject({ ratioAtMost1_3: false, preflightUnder1s: true, zeroFailedRequests: true });
  });

  it('counts a failed request in any round against the target', () => {
    const r = addComparison(report([phase('bluegreen', 1000, 500), phase('baseline', 1000, 500), phase('bluegreen', 1000, 500, 1)]));
    expect(r.targets?.zeroFailedRequests).toBe(false);
  });

  it('runs a small fleet, whose runs are short and the noisiest, for more rounds than a large one', () => {
    expect([2, 9, 10, 25, 50].map(defaultRounds)).toEqual([15, 15, 3, 3, 3]);
  });
});
