import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HistoryFileWriter,
  HistoryFormatError,
  HistoryValidator,
  countOperations,
  historyToJsonl,
  pairOperations,
  parseHistory,
  readHistoryFile,
  type HistoryEvent,
} from '../history';

const line = (o: object): string => JSON.stringify(o);
const inv = { process: 1, type: 'invoke', f: 'put', key: 'k', value: 1 };
const ok = { process: 1, type: 'ok', f: 'put', key: 'k', value: 1 };

function parseError(text: string): HistoryFormatError {
  try {
    parseHistory(text);
  } catch (e) {
    expect(e).toBeInstanceOf(HistoryFormatError);
    return e as HistoryFormatError;
  }
  throw new Error('expected a HistoryFormatError');
}

describe('history parser', () => {
  it('parses valid events, skips blank lines, ignores unknown fields', () => {
    const text =
      [
        line(inv),
        '',
        line({ ...ok, extra: 'ignored', time: 5 }),
        line({ process: 2, type: 'invoke', f: 'cas', key: 'k', value: [1, null] }),
      ].join('\n') + '\n';
    const events = parseHistory(text);
    expect(events).toHaveLength(3);
    expect(events[1]).toEqual({ ...ok, time: 5 });
    expect('extra' in events[1]!).toBe(false);
  });

  const bad: Array<[string, string[], number, RegExp]> = [
    ['invalid JSON', [line(inv), '{"process":'], 2, /not valid JSON/],
    ['not an object', ['[1,2]'], 1, /JSON object/],
    ['non-integer process', [line({ ...inv, process: 1.5 })], 1, /process/],
    ['unknown type', [line({ ...inv, type: 'start' })], 1, /type/],
    ['unknown f', [line({ ...inv, f: 'incr' })], 1, /f must be/],
    ['non-string key', [line({ ...inv, key: 3 })], 1, /key/],
    ['missing value', [line({ process: 1, type: 'invoke', f: 'get', key: 'k' })], 1, /value is missing/],
    ['get invoke with a value', [line({ ...inv, f: 'get', value: 3 })], 1, /get invoke value must be null/],
    ['put of null', [line({ ...inv, value: null })], 1, /put value/],
    ['cas with one element', [line({ ...inv, f: 'cas', value: [1] })], 1, /cas value/],
    ['append of a number', [line({ ...inv, f: 'append', value: 1 })], 1, /append value/],
    ['error on invoke', [line({ ...inv, error: 'x' })], 1, /error is allowed only/],
    ['error not a string', [line(inv), line({ ...ok, type: 'fail', error: 5 })], 2, /error must be a string/],
    [
      'current without mismatch',
      [line({ ...inv, f: 'cas', value: [1, 2] }), line({ ...inv, type: 'fail', f: 'cas', value: [1, 2], current: 3 })],
      2,
      /current is allowed only/,
    ],
    [
      'current equal to expected',
      [
        line({ ...inv, f: 'cas', value: [1, 2] }),
        line({ ...inv, type: 'fail', f: 'cas', value: [1, 2], error: 'mismatch', current: 1 }),
      ],
      2,
      /must differ/,
    ],
    ['two outstanding invokes', [line(inv), line({ ...inv, value: 2 })], 2, /still outstanding/],
    ['completion without invoke', [line(ok)], 1, /without an outstanding invoke/],
    ['completion of another key', [line(inv), line({ ...ok, key: 'other' })], 2, /does not match/],
    ['completion with another argument', [line(inv), line({ ...ok, value: 2 })], 2, /differs from the invoke/],
    ['time going backwards', [line({ ...inv, time: 10 }), line({ ...ok, time: 9 })], 2, /before the previous/],
    ['bad transfer', [line({ ...inv, f: 'transfer', value: { from: 'a', to: 'b' } })], 1, /transfer value/],
    [
      'bad read result',
      [line({ ...inv, f: 'read', value: null }), line({ ...ok, f: 'read', value: 'abc' })],
      2,
      /read ok value/,
    ],
  ];
  for (const [name, lines, lineNo, message] of bad) {
    it(`rejects ${name} with the line number`, () => {
      const e = parseError(lines.join('\n'));
      expect(e.line).toBe(lineNo);
      expect(e.message).toMatch(new RegExp(`^line ${lineNo}: `));
      expect(e.message).toMatch(message);
      expect(e.code).toBe('INVALID_ARGUMENT');
    });
  }

  it('counts blank lines in line numbers', () => {
    expect(parseError([line(inv), '', '', 'nope'].join('\n')).line).toBe(4);
  });

  it('allows process reuse after a completion (also after info)', () => {
    const v = new HistoryValidator();
    v.accept(inv, 1);
    v.accept({ ...ok, type: 'info', error: 'timed-out' }, 2);
    expect(() => v.accept({ ...inv, value: 2 }, 3)).not.toThrow();
  });
});

describe('history writer and pairing', () => {
  const events: HistoryEvent[] = [
    { process: 0, type: 'invoke', f: 'put', key: 'a', value: 1, time: 1 },
    { process: 1, type: 'invoke', f: 'cas', key: 'a', value: [1, 2], time: 2 },
    { process: 0, type: 'ok', f: 'put', key: 'a', value: 1, time: 3 },
    { process: 1, type: 'fail', f: 'cas', key: 'a', value: [1, 2], error: 'mismatch', current: 5, time: 4 },
    { process: 2, type: 'invoke', f: 'get', key: 'b', value: null, time: 5 },
  ];

  it('round-trips through JSON lines and a file writer', () => {
    expect(parseHistory(historyToJsonl(events))).toEqual(events);
    const dir = mkdtempSync(join(tmpdir(), 'jl-history-'));
    try {
      const path = join(dir, 'history.jsonl');
      const w = new HistoryFileWriter(path, 100);
      for (const e of events) w.write(e);
      expect(w.eventCount).toBe(5);
      w.close();
      expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(6);
      expect(readHistoryFile(path)).toEqual(events);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pairs invokes with completions; no completion means pending', () => {
    const ops = pairOperations(events);
    expect(ops.map((o) => [o.process, o.outcome, o.invokeIndex, o.completeIndex])).toEqual([
      [0, 'ok', 0, 2],
      [1, 'fail', 1, 3],
      [2, 'pending', 4, null],
    ]);
    expect(ops[1]!.current).toBe(5);
    expect(ops[1]!.error).toBe('mismatch');
    expect(ops[0]!.completeTime).toBe(3);
    const counts = countOperations(events, ops);
    expect(counts.byOutcome).toEqual({ ok: 1, fail: 1, info: 0, pending: 1 });
    expect(counts.keys).toBe(2);
    expect(counts.byFunction.cas).toEqual({ ok: 0, fail: 1, info: 0, pending: 0 });
  });
});
