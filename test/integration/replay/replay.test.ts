// Histories of complete runs, recorded by scripts/record-histories.ts and committed here, must replay
// against today's workflow code. A change that would break runs still open in production fails here:
// guard it with patched()/deprecatePatch() instead of re-recording.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { quietTemporalLogs, workflowBundle } from '../../support/temporal';

const dir = fileURLToPath(new URL('./histories/', import.meta.url));
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('recorded histories replay without determinism errors', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });
  for (const file of files) {
    it(`replays ${file}`, async () => {
      quietTemporalLogs();
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
      // Throws DeterminismViolationError (or another replay error) if the code no longer matches.
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file.replace(/\.json$/, ''));
    });
  }
});
