// The lab's library API, for tests and the demo.
export { labUp, type LabUpOptions, type LabUpResult } from './up';
export { labDown, type LabDownResult } from './down';
export { labStatus, type LabStatus, type LabHostStatus } from './status';
export { defaultLabDir, defaultBasePort, describeLab, labPaths, type Lab, type LabHost, type ClusterName, type LbKind } from './layout';
export { readUpstream, resetUpstreams } from './nginx';
export {
  FAULTS,
  applyFault,
  stopSshd,
  startSshdAgain,
  freezeHost,
  thawHost,
  stopApp,
  startApp,
  hideHaproxyApi,
  restoreHaproxyApi,
  stopLbSshd,
  startLbSshdAgain,
  dropSshConnections,
  type FaultKind,
} from './faults';
export { startLoad, type Load, type LoadOptions, type LoadReport, type LoadFailure } from './loadgen';
export { hostCurrentRelease, hostRestarts, hostReleases, type Restart } from './hosts';
export { CHECK_INTER_MS, haproxyCommand, showStat, serverRow, type StatRow } from './haproxy';
export { RELEASES, type ReleaseName } from './releases';
export { labPlan } from './plan';
export { runHostScript, labUserOf } from './host-script';
export { DEFAULT_DEPLOY_USER, lookupUser, giveTreeTo, type LabUser } from './deploy-user';
