/**
 * The Logger capability passed down the layers (a narrow slice of pino's API), and its pino adapter.
 * Logs are JSON lines on stdout. Hot paths do not log per message; they count in metrics instead.
 */
import pino from 'pino';

export interface Logger {
  fatal(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /** Flush buffered output (before exit). */
  flush?(): void;
}

export interface LoggerOptions {
  level: string;
  /** Fields on every line, e.g. { node: 1 }. */
  base?: Record<string, unknown>;
  /** Destination file descriptor or stream; stdout by default. */
  destination?: pino.DestinationStream;
}

export function createPinoLogger(options: LoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level,
      base: { pid: process.pid, ...(options.base ?? {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return logger as unknown as Logger;
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return createPinoLogger({ level: 'silent' });
}
