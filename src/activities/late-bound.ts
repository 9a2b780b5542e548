// The worker registers its activities with Temporal before their implementations exist: ssh2, the
// adapters and this directory's code load while Worker.create runs (DESIGN.md, "Worker
// start-up"). It binds the real functions before it polls, so no task ever reaches an unbound one;
// the names are known here without loading any of that code.
import type { createActivities } from './index';

export type Activities = ReturnType<typeof createActivities>;

/** Every activity the worker registers. A name missing here does not compile (see below). */
export const ACTIVITY_NAMES = [
  'readLoadBalancer',
  'readCounters',
  'inspectHosts',
  'readFleet',
  'drainFromLive',
  'enterPool',
  'leavePool',
  'deployHosts',
  'smokeTest',
  'runMigration',
  'notify',
] as const satisfies readonly (keyof Activities)[];

type ActivityName = (typeof ACTIVITY_NAMES)[number];
type Unlisted = Exclude<keyof Activities, ActivityName>;
/** Fails to type-check, naming the activity, when createActivities returns one ACTIVITY_NAMES lacks. */
export const EVERY_ACTIVITY_LISTED: [Unlisted] extends [never] ? true : { unlisted: Unlisted } = true;

type AnyActivity = (...args: unknown[]) => unknown;

export interface LateBoundActivities {
  /** What Worker.create gets: one function per name, each calling the bound implementation. */
  activities: Activities;
  /** Binds the implementations; refuses a set whose names differ from ACTIVITY_NAMES. */
  bind(real: Activities): void;
}

export function lateBoundActivities(): LateBoundActivities {
  let bound: Record<ActivityName, AnyActivity> | undefined;
  const activities: Record<string, AnyActivity> = {};
  for (const name of ACTIVITY_NAMES) {
    // Called synchronously, so Temporal's activity context (Context.current()) is the caller's.
    activities[name] = (...args) => {
      if (!bound) throw new Error(`activity ${name} was called before the worker bound its implementation`);
      return bound[name](...args);
    };
  }
  return {
    activities: activities as unknown as Activities,
    bind(real) {
      const names = Object.keys(real);
      const expected: readonly string[] = ACTIVITY_NAMES;
      const extra = names.filter((n) => !expected.includes(n));
      const missing = expected.filter((n) => !names.includes(n));
      if (extra.length || missing.length)
        throw new Error(
          `the activities do not match ACTIVITY_NAMES (src/activities/late-bound.ts): ` +
            [extra.length ? `unlisted ${extra.join(', ')}` : '', missing.length ? `missing ${missing.join(', ')}` : '']
              .filter(Boolean)
              .join('; '),
        );
      bound = real as unknown as Record<ActivityName, AnyActivity>;
    },
  };
}
