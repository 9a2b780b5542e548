// Everything the worker bundles into the workflow sandbox.
export { blueGreenDeployment } from './deployment';
export { recoverFleet } from './recover';
export { warmUpWorker } from './warm-up';
