// The names of the messages a deployment run answers: the one source of truth for both the workflow
// (messages.ts defines them) and the CLI, which addresses them by name so that it need not load
// @temporalio/workflow. No imports: anything may import this cheaply.
export const MESSAGE_NAMES = {
  approveSignal: 'approve',
  rejectSignal: 'reject',
  abortSignal: 'abort',
  pauseSignal: 'pause',
  resumeSignal: 'resume',
  statusQuery: 'status',
  approveUpdate: 'approveGate',
  rejectUpdate: 'rejectGate',
} as const;
