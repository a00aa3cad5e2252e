/** L1 raft: the pure, deterministic consensus core (DESIGN.md section 2). */
export type * from './types';
