// The worker registers late-bound activities with Temporal before their dependencies load (the
// worker's start-up overlap); these pin that the stand-ins are exactly the real set and forward
// faithfully, Temporal's activity context included.
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../../src/activities';
import type { ActivityDeps } from '../../../src/activities/deps';
import { ACTIVITY_NAMES, lateBoundActivities, type Activities } from '../../../src/activities/late-bound';
import type { LbConfig } from '../../../src/ports/lb';

// createActivities only closes over its ports; nothing here calls them.
const real = () => createActivities({} as unknown as ActivityDeps);

describe('late-bound activities', () => {
  it('register exactly the activities createActivities builds', () => {
    expect(Object.keys(lateBoundActivities().activities).sort()).toEqual(Object.keys(real()).sort());
    expect([...ACTIVITY_NAMES].sort()).toEqual(Object.keys(real()).sort());
  });

  it('run the bound implementation with its arguments, inside the caller’s activity context', async () => {
    const late = lateBoundActivities();
    const seen: unknown[] = [];
    late.bind({
      ...real(),
      async readLoadBalancer(config: LbConfig) {
        seen.push(config, Context.current().info.activityType);
        Context.current().heartbeat('reading');
        return [];
      },
    });
    const env = new MockActivityEnvironment({ activityType: 'readLoadBalancer' });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const config = { type: 'haproxy', runtimeApi: '127.0.0.1:9999' } as unknown as LbConfig;
    await expect(env.run(late.activities.readLoadBalancer, config)).resolves.toEqual([]);
    expect(seen).toEqual([config, 'readLoadBalancer']);
    expect(beats).toEqual(['reading']);
  });

  it('refuse to run before they are bound, naming the activity', async () => {
    const late = lateBoundActivities();
    await expect(new MockActivityEnvironment().run(late.activities.deployHosts, {} as never)).rejects.toThrow(
      'activity deployHosts was called before the worker bound its implementation',
    );
  });

  it('refuse an implementation set with other names, naming what differs', () => {
    const { notify: _dropped, ...fewer } = real();
    const late = lateBoundActivities();
    expect(() => late.bind({ ...fewer, extra: async () => {} } as unknown as Activities)).toThrow(/unlisted extra; missing notify/);
    // Nothing was bound by the refused call.
    return expect(new MockActivityEnvironment().run(late.activities.notify, {} as never)).rejects.toThrow(/before the worker bound/);
  });
});
