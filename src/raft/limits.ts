/**
 * Numeric bounds of the Raft core. Terms and indexes stay far below 2^53, so `term + 1`, `index + n` and
 * every sum the core computes remain safe integers forever: 2^48 elections at one per millisecond take
 * nine thousand years. A message beyond these bounds is invalid (validate-message.ts), the codec refuses
 * to decode one (codec/raft-message.ts), and the core never produces one (candidate.ts refuses to
 * campaign at TERM_MAX).
 */

/** The largest term the core accepts or produces. */
export const TERM_MAX = 2 ** 48;

/** The largest log index the core accepts or produces. */
export const INDEX_MAX = 2 ** 48;

/**
 * The most entries in one AppendEntries message: the leader never sends more (RaftLog.slice), and a
 * message with more is invalid. Bytes are bounded separately (RaftConfig.appendBytesMax, the codec).
 */
export const APPEND_ENTRIES_MAX = 8192;
