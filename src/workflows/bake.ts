// The bake (plan.bake): after a cluster goes live, watch its servers in the live pool through the
// LB's own per-server counters, and fail the run (which then rolls back) on a breach. The window's
// start is an activity result, so it is in the history: a worker that dies mid-bake loses nothing,
// the next one replays to the same window and reads the counters again. Each sample is a timer and
// one short activity (about 11 events); the plan bounds the samples per window (MAX_BAKE_SAMPLES,
// MAX_BAKE_READINGS).
import { ApplicationFailure, setCurrentDetails, sleep } from '@temporalio/workflow';
import type { BakeConfig } from '../plan/schema';
import { advance, describeBake, judge, openWindow, type ServerWindow } from './bake-rules';
import { hostRefs } from './preflight-rules';
import { clusterOf, type BakeRecord } from './state';
import type { StepContext } from './steps';

export interface BakeWindow {
  record: BakeRecord;
  windows: ServerWindow[];
}

function configOf(ctx: StepContext): BakeConfig {
  if (!ctx.plan.bake) throw new Error('no bake in the plan');
  return ctx.plan.bake;
}

async function read(ctx: StepContext, cluster: string, what: string) {
  const servers = hostRefs(ctx.plan, cluster).map((h) => h.name);
  return ctx.call('readCounters', `Bake: ${what} of ${cluster} (${servers.length} servers) in the live pool`, {
    lb: ctx.plan.loadBalancer,
    pool: 'live',
    servers,
  });
}

/**
 * Opens the window just before the cluster enters the live pool, so that every request it serves
 * counts, from the first one.
 */
export async function openBakeWindow(ctx: StepContext, cluster: string): Promise<BakeWindow> {
  const cfg = configOf(ctx);
  const start = await read(ctx, cluster, 'read the counters that open the window');
  const windows = openWindow(start);
  const record: BakeRecord = {
    cluster,
    seconds: cfg.seconds,
    sampleSeconds: cfg.sampleSeconds,
    thresholds: cfg.thresholds,
    startedAt: new Date().toISOString(),
    samples: 0,
    outcome: 'running',
    servers: advance(windows, start),
  };
  ctx.status.bakes = [...(ctx.status.bakes ?? []), record];
  return { record, windows };
}

/** The bake step: samples until the window ends or a threshold breaks (BakeFailed). */
export async function bake(ctx: StepContext, cluster: string, { record, windows }: BakeWindow): Promise<void> {
  const cfg = configOf(ctx);
  clusterOf(ctx.status, cluster).phase = 'baking';
  const watchFrom = Date.now();
  record.watchFrom = new Date(watchFrom).toISOString();
  const end = watchFrom + cfg.seconds * 1000;
  const opened = Date.parse(record.startedAt);
  show(ctx, record);
  try {
    // An abort cancels the wait or the reading in flight and surfaces as AbortRequested (rollback).
    await ctx.control.interruptible(async () => {
      while (Date.now() < end) {
        await sleep(Math.min(cfg.sampleSeconds * 1000, end - Date.now()));
        const reading = await read(ctx, cluster, `sample ${record.samples + 1}`);
        record.servers = advance(windows, reading);
        record.samples++;
        record.lastSampleAt = new Date().toISOString();
        const verdict = judge(cluster, record.servers, cfg.thresholds, (Date.now() - opened) / 1000);
        record.note = verdict.note;
        if (verdict.breach) {
          record.outcome = 'breached';
          record.reason = verdict.breach;
          show(ctx, record);
          throw ApplicationFailure.nonRetryable(verdict.breach, 'BakeFailed', { cluster, samples: record.samples });
        }
        show(ctx, record);
      }
    });
  } catch (err) {
    if (record.outcome === 'running') {
      record.outcome = 'stopped';
      record.reason = err instanceof Error ? err.message : String(err);
    }
    throw err;
  }
  record.outcome = 'passed';
  clusterOf(ctx.status, cluster).phase = 'live';
  show(ctx, record);
}

function show(ctx: StepContext, b: BakeRecord): void {
  setCurrentDetails(`Step **bake** of cluster **${b.cluster}** (${ctx.plan.release}): ${describeBake(b, Date.now())}`);
}
