/**
 * Parser and validator for `jepsen-lite-history/v1` JSON lines. Every line is validated on its own (field
 * types, the value shape of its `f`) and against the lines before it (one outstanding op per process, a
 * completion matches its invoke, `time` never decreases). The first problem throws a HistoryFormatError
 * with the 1-based line number. Blank lines are skipped (they still count for line numbers); unknown
 * fields are ignored, as the format requires.
 */
import { readFileSync } from 'node:fs';
import { HistoryFormatError } from './errors';
import type { EventType, EventValue, HistoryEvent, OpFunction, Scalar, Transfer } from './types';

const EVENT_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);
const FUNCTIONS: ReadonlySet<string> = new Set(['get', 'put', 'cas', 'delete', 'append', 'add', 'read', 'transfer']);

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isTransfer(v: unknown): v is Transfer {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const t = v as Record<string, unknown>;
  return (
    typeof t.from === 'string' && typeof t.to === 'string' && typeof t.amount === 'number' && Number.isFinite(t.amount)
  );
}

function isBalances(v: unknown): v is Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Checks the `value` shape for an event's f and type; returns an error text or null. */
function valueProblem(f: OpFunction, type: EventType, value: unknown): string | null {
  switch (f) {
    case 'get':
      if (type === 'ok') return isScalar(value) ? null : 'get ok value must be null, a number or a string';
      return value === null ? null : `get ${type} value must be null`;
    case 'put':
      return isScalar(value) && value !== null ? null : 'put value must be a number or a string';
    case 'append':
      return typeof value === 'string' ? null : 'append value must be a string';
    case 'delete':
      return value === null ? null : 'delete value must be null';
    case 'cas':
      return Array.isArray(value) && value.length === 2 && isScalar(value[0]) && isScalar(value[1])
        ? null
        : 'cas value must be [expected, new] with null, number or string elements';
    case 'add':
      return isScalar(value) && value !== null ? null : 'add value must be a number or a string';
    case 'transfer':
      return isTransfer(value) ? null : 'transfer value must be {from: string, to: string, amount: number}';
    case 'read':
      if (type === 'ok') {
        if (Array.isArray(value))
          return value.every(isScalar) ? null : 'read ok value must be an array of scalars or an object of numbers';
        return isBalances(value) ? null : 'read ok value must be an array of scalars or an object of numbers';
      }
      return value === null ? null : `read ${type} value must be null`;
  }
}

function sameArgument(a: EventValue, b: EventValue): boolean {
  if (isTransfer(a) && isTransfer(b)) return a.from === b.from && a.to === b.to && a.amount === b.amount;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Validates events one at a time, in file order, keeping the cross-line state (outstanding invokes per
 * process, last time). Use `accept` for each event; the recorder in the harness may use it too.
 */
export class HistoryValidator {
  private readonly outstanding = new Map<number, HistoryEvent>();
  private lastTime: number | undefined;

  /** Validates one raw parsed JSON value and returns it as a typed event. `line` is 1-based. */
  accept(raw: unknown, line: number): HistoryEvent {
    const fail = (msg: string): never => {
      throw new HistoryFormatError(line, msg);
    };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('event must be a JSON object');
    const o = raw as Record<string, unknown>;
    if (typeof o.process !== 'number' || !Number.isSafeInteger(o.process))
      fail(`process must be an integer, got ${describe(o.process)}`);
    if (typeof o.type !== 'string' || !EVENT_TYPES.has(o.type))
      fail(`type must be invoke, ok, fail or info, got ${describe(o.type)}`);
    if (typeof o.f !== 'string' || !FUNCTIONS.has(o.f))
      fail(`f must be one of ${[...FUNCTIONS].join(', ')}, got ${describe(o.f)}`);
    if (typeof o.key !== 'string') fail(`key must be a string, got ${describe(o.key)}`);
    if (!('value' in o)) fail('value is missing (use null when there is none)');
    const process = o.process as number;
    const type = o.type as EventType;
    const f = o.f as OpFunction;
    const key = o.key as string;
    const problem = valueProblem(f, type, o.value);
    if (problem !== null) fail(`${problem}, got ${describe(o.value)}`);
    const event: HistoryEvent = { process, type, f, key, value: o.value as EventValue };

    if (o.error !== undefined) {
      if (typeof o.error !== 'string') fail(`error must be a string, got ${describe(o.error)}`);
      if (type !== 'fail' && type !== 'info') fail(`error is allowed only on fail or info events, not ${type}`);
      event.error = o.error as string;
    }
    if (o.current !== undefined) {
      if (!(f === 'cas' && type === 'fail' && o.error === 'mismatch'))
        fail('current is allowed only on a cas fail with error "mismatch"');
      if (!isScalar(o.current)) fail(`current must be null, a number or a string, got ${describe(o.current)}`);
      const expected = (o.value as [Scalar, Scalar])[0];
      if (o.current === expected) fail(`current ${describe(o.current)} must differ from the expected value`);
      event.current = o.current as Scalar;
    }
    if (o.time !== undefined) {
      if (typeof o.time !== 'number' || !Number.isSafeInteger(o.time) || o.time < 0)
        fail(`time must be a non-negative integer, got ${describe(o.time)}`);
      const t = o.time as number;
      if (this.lastTime !== undefined && t < this.lastTime)
        fail(`time ${t} is before the previous event's time ${this.lastTime}`);
      this.lastTime = t;
      event.time = t;
    }

    const open = this.outstanding.get(process);
    if (type === 'invoke') {
      if (open !== undefined)
        fail(`process ${process} invokes ${f} while its ${open.f} on key ${describe(open.key)} is still outstanding`);
      this.outstanding.set(process, event);
    } else {
      if (open === undefined) fail(`${type} for process ${process} without an outstanding invoke`);
      const inv = open as HistoryEvent;
      if (inv.f !== f || inv.key !== key)
        fail(
          `${type} ${f} on key ${describe(key)} does not match process ${process}'s invoke of ${inv.f} on key ${describe(inv.key)}`,
        );
      const repeatsArgument = f !== 'get' && f !== 'read';
      if (repeatsArgument && !sameArgument(inv.value, event.value))
        fail(`${type} value ${describe(event.value)} differs from the invoke's argument ${describe(inv.value)}`);
      this.outstanding.delete(process);
    }
    return event;
  }
}

/** Parses a whole history text. Throws HistoryFormatError (with the line) on the first bad line. */
export function parseHistory(text: string): HistoryEvent[] {
  const validator = new HistoryValidator();
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineText = lines[i]!.trim();
    if (lineText === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(lineText);
    } catch (e) {
      throw new HistoryFormatError(i + 1, `not valid JSON (${(e as Error).message})`);
    }
    events.push(validator.accept(raw, i + 1));
  }
  return events;
}

/** Reads and parses a history file. I/O errors are thrown as they are (not HistoryFormatError). */
export function readHistoryFile(path: string): HistoryEvent[] {
  return parseHistory(readFileSync(path, 'utf8'));
}
