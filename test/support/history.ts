// Looking for secrets in a run's history the way a reader (payloads decoded) and an export (base64)
// would show it, and the check that it really would see them.
import type { WorkflowHandle } from '@temporalio/client';
import { expect } from 'vitest';

export async function historyForms(handle: WorkflowHandle): Promise<{ asText: string; asExport: string }> {
  const history = await handle.fetchHistory();
  const asExport = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
  const asText = JSON.stringify(history, (k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if ((k === 'data' || k === 'details') && typeof v === 'string') return Buffer.from(v, 'base64').toString('utf8');
    return v;
  });
  return { asText, asExport };
}

/** None of `secrets` in any of `texts`, as they are or in base64. */
export function expectNowhere(texts: string[], secrets: string[], where = 'history'): void {
  for (const text of texts) {
    for (const secret of secrets) {
      for (const form of [secret, Buffer.from(secret).toString('base64').replace(/=+$/, '')])
        expect(text.includes(form), `${secret} in ${where}`).toBe(false);
    }
  }
}
