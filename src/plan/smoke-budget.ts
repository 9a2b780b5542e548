// What a plan's smoke tests cost, shared by the activity that runs them and the workflow that sets
// its timeout (which may import no activity code): pure numbers.

/** Smoke requests in flight at once (through the standby pool, or to hosts directly). */
export const SMOKE_CONCURRENCY = 8;

/** Requests through the standby pool per smoke test: two rounds of round robin over the cluster. */
export const smokePoolRounds = (hosts: number) => Math.max(2, hosts * 2);
