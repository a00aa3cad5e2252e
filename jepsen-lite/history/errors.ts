/**
 * HistoryFormatError: a history file or event that does not follow `jepsen-lite-history/v1`. Carries the
 * 1-based line number of the offending line (0 when the problem is not tied to one line).
 */
import { TesseraError } from '../../src/base';

export class HistoryFormatError extends TesseraError {
  readonly line: number;
  constructor(line: number, message: string) {
    super('INVALID_ARGUMENT', line > 0 ? `line ${line}: ${message}` : message, { line });
    this.name = 'HistoryFormatError';
    this.line = line;
  }
}

export function isHistoryFormatError(e: unknown): e is HistoryFormatError {
  return e instanceof HistoryFormatError;
}
