// What "the deployment ran under load" means, independent of how fast the deployment was: the load
// generator kept at least a quarter of its rate for the whole window (a faster run sends fewer requests).
import { expect } from 'vitest';

export interface LoadFigures {
  requests: number;
  /** Seconds the load ran. */
  seconds: number;
  /** Requests per second asked for. */
  rps: number;
}

export function expectSteadyLoad(load: LoadFigures, minSeconds = 1): void {
  expect(load.seconds, 'seconds of load').toBeGreaterThanOrEqual(minSeconds);
  expect(load.requests, `requests in ${load.seconds} s at ${load.rps}/s`).toBeGreaterThanOrEqual(
    Math.floor(load.rps * load.seconds * 0.25),
  );
}
