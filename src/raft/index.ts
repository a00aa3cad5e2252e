/** L1 raft: the pure, deterministic consensus core (DESIGN.md section 2). */
export type * from './types';
export { RaftCore } from './raft-core';
export { defaultRaftConfig, validateRaftConfig } from './config';
export { configAfterEntry } from './membership';
export { entryBytes } from './raft-log';
export { APPEND_ENTRIES_MAX, INDEX_MAX, TERM_MAX } from './limits';
