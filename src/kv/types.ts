/**
 * The replicated state machine's commands and results. A Command is what a normal Raft entry carries
 * (encoded by codec/). Writes carry an optional session (clientId, seq): the state machine remembers the
 * last result per session, so a retried write with the same (clientId, seq) returns the remembered result
 * and is applied at most once. Reads never go through the log.
 */
export type { SessionTag, WriteOp, Compare, Command, CommandResult, KeyValue, ScanPage } from '../codec';
