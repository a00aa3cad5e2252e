/**
 * `npm run jepsen -- check FILE [options]`: checks a recorded register history
 * (`jepsen-lite-history/v1` JSON lines) for linearizability and prints a JSON verdict on stdout:
 *   {"valid": true|false|"unknown", "keys", "ops", "anomalies": [{key, explanation, failingOp, ops,
 *    keyOps, subhistory, eventIndexes, shrink}], "undecidedKeys": [{key, verdict, reason}], "elapsedMs", ...}
 *
 * Options: --initial JSON     initial value of every key (default null = absent), e.g. --initial 0 or '""'
 *          --steps-per-key N  search budget per key (default 20,000,000 steps)
 *          --time-limit-ms N  wall-clock limit of the search (default none)
 *          --all-keys         check every key instead of stopping at the first non-linearizable one
 *          --shrink-ms N      time bound to shrink each anomaly's sub-history (default 2000; 0 = no shrink)
 *
 * Exit codes: 0 linearizable; 1 not linearizable, or "unknown" (a budget ran out before a decision: the
 * history is not known to be linearizable; the JSON says which); 2 malformed file (the message has the
 * line number), a non-register history, unreadable file or bad arguments.
 * `argv` is the arguments after `check`.
 */
import { readFileSync } from 'node:fs';
import { isTesseraError } from '../../src/base';
import { formatHistoryEvent, isHistoryFormatError, parseHistory, type HistoryEvent, type Scalar } from '../history';
import { checkLinearizability, type LinearizabilityOptions } from './linearizability';

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CommandIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

export const CHECK_USAGE =
  'usage: check FILE [--initial JSON] [--steps-per-key N] [--time-limit-ms N] [--all-keys] [--shrink-ms N]';

class UsageError extends Error {}

interface CheckArgs {
  file: string;
  options: LinearizabilityOptions;
}

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isSafeInteger(n) || n < 0)
    throw new UsageError(`${flag} needs a non-negative integer, got ${v ?? 'nothing'}`);
  return n;
}

function parseArgs(argv: readonly string[]): CheckArgs {
  let file: string | undefined;
  const options: LinearizabilityOptions = { initial: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--initial': {
        const text = value();
        if (text === undefined) throw new UsageError('--initial needs a JSON value');
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch {
          throw new UsageError(`--initial is not valid JSON: ${text}`);
        }
        if (!(v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))) {
          throw new UsageError('--initial must be null, a number or a string (JSON)');
        }
        options.initial = v as Scalar;
        break;
      }
      case '--steps-per-key':
        options.stepsPerKeyMax = Math.max(1, positiveInt(flag, value()));
        break;
      case '--time-limit-ms':
        options.timeLimitMs = positiveInt(flag, value());
        break;
      case '--shrink-ms': {
        const ms = positiveInt(flag, value());
        options.shrink = ms > 0;
        options.shrinkTimeMs = ms;
        break;
      }
      case '--all-keys':
        options.stopAtFirstAnomaly = false;
        break;
      default:
        if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
        if (file !== undefined) throw new UsageError(`unexpected argument ${a}`);
        file = a;
    }
  }
  if (file === undefined) throw new UsageError('missing FILE');
  return { file, options };
}

/** Pretty JSON, except that history events stay one per line (as in the history file) and number lists on one. */
export function formatVerdict(verdict: object): string {
  const compact: string[] = [];
  const text = JSON.stringify(
    verdict,
    (_key, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'process' in v && 'type' in v && 'f' in v) {
        compact.push(formatHistoryEvent(v as HistoryEvent));
        return `\u0000${compact.length - 1}\u0000`;
      }
      if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
        compact.push(JSON.stringify(v));
        return `\u0000${compact.length - 1}\u0000`;
      }
      return v;
    },
    2,
  );
  return text.replace(/"\\u0000(\d+)\\u0000"/g, (_m, i: string) => compact[Number(i)]!);
}

function fail(io: CommandIo, message: string, line?: number): number {
  io.stdout(JSON.stringify({ valid: null, error: message, ...(line !== undefined ? { line } : {}) }) + '\n');
  io.stderr(`check: ${message}\n`);
  return 2;
}

export async function runCheckCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  let args: CheckArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return fail(io, `${e.message}\n${CHECK_USAGE}`);
    throw e;
  }
  let text: string;
  try {
    text = readFileSync(args.file, 'utf8');
  } catch (e) {
    return fail(io, `cannot read ${args.file}: ${(e as Error).message}`);
  }
  try {
    const events = parseHistory(text);
    const r = checkLinearizability(events, args.options);
    const verdict = {
      valid: r.valid,
      file: args.file,
      initial: args.options.initial ?? null,
      keys: r.keys,
      ops: r.ops,
      events: events.length,
      anomalies: r.anomalies,
      undecidedKeys: r.perKey
        .filter((k) => k.verdict === 'unknown' || k.verdict === 'cancelled')
        .map((k) => ({ key: k.key, verdict: k.verdict, reason: k.reason })),
      searchSteps: r.perKey.reduce((s, k) => s + k.steps, 0),
      elapsedMs: r.elapsedMs,
    };
    io.stdout(formatVerdict(verdict) + '\n');
    return r.valid === true ? 0 : 1;
  } catch (e) {
    if (isHistoryFormatError(e)) return fail(io, `${args.file}: ${e.message}`, e.line);
    if (isTesseraError(e) && e.code === 'INVALID_ARGUMENT') return fail(io, `${args.file}: ${e.message}`);
    throw e;
  }
}
