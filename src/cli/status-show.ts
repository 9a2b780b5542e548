// Prints a status view the same way whichever read path (light or full client) produced it.
import { EXIT } from './errors';
import type { RunView } from './run-view';

/** Prints a view the same way whichever path read it. */
export async function show(view: RunView, json: boolean, setExit: (n: number) => void): Promise<void> {
  const { renderStatus } = await import('./status-view');
  console.log(json ? JSON.stringify(view, null, 2) : renderStatus(view));
  if (!view.status && view.hint) {
    console.error(`error: ${view.failure}\nnext: ${view.hint}`);
    setExit(EXIT.failed);
  }
}
