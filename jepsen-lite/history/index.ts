/**
 * jepsen-lite history: the `jepsen-lite-history/v1` event types, a validating JSON-lines parser (errors
 * carry the line number), a writer, and pairing of events into operations.
 */
export { HISTORY_FORMAT } from './types';
export type {
  BankFunction,
  EventType,
  EventValue,
  HistoryEvent,
  OpFunction,
  OpOutcome,
  Operation,
  RegisterFunction,
  Scalar,
  SetFunction,
  Transfer,
} from './types';
export { HistoryFormatError, isHistoryFormatError } from './errors';
export { HistoryValidator, parseHistory, readHistoryFile } from './parse';
export { HistoryFileWriter, formatHistoryEvent, historyToJsonl, writeHistoryFile } from './write';
export { countOperations, pairOperations } from './operations';
export type { HistoryCounts } from './operations';
