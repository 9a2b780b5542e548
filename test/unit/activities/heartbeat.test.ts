// Heartbeating around a fan-out: the hosts in flight all wait on the activity's cancellation signal.
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { withHeartbeat } from '../../../src/activities/heartbeat';
import { sleep } from '../../../src/sleep';

describe('withHeartbeat', () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  afterEach(() => {
    process.off('warning', onWarning);
    warnings.length = 0;
  });

  it('lets 50 hosts in flight wait on the cancellation signal without a listener-leak warning', async () => {
    process.on('warning', onWarning);
    const env = new MockActivityEnvironment();
    const waited = await env.run(() =>
      withHeartbeat(
        () => ({}),
        async () => {
          const signal = Context.current().cancellationSignal;
          await Promise.all(Array.from({ length: 50 }, () => sleep(20, signal)));
          return 50;
        },
      ),
    );
    // Warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    expect(waited).toBe(50);
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });

  it('heartbeats its details at once, before the work ends', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    await env.run(() =>
      withHeartbeat(
        () => ({ done: 1 }),
        () => sleep(10),
      ),
    );
    expect(beats[0]).toEqual({ done: 1 });
  });
});
