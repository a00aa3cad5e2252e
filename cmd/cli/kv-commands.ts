/**
 * Key-value commands of the tessera CLI: put, get, del, scan, cas. Each returns its exit code and prints
 * human output, or JSON with --json (values in the chosen --encoding).
 */
import {
  EXIT_FAILED,
  EXIT_OK,
  UsageError,
  decodeArg,
  encodeBytes,
  expectPositionals,
  intOption,
  json,
  parse,
  withClient,
} from './args';
import type { Io } from './args';

export const kvHelp = `Key-value commands:
  put KEY VALUE                     write a value
  get KEY [--stale]                 print the value (exit 1 when the key is absent); --stale reads any replica
  del KEY                           delete a key (prints whether it existed)
  scan [START [END]] [--limit N] [--keys-only] [--stale]
                                    keys in [START, END) in order (START default: the first key)
  cas KEY EXPECTED NEW              set NEW if the current value is EXPECTED (exit 1 when the compare fails)
  cas --absent KEY NEW              ... if the key is absent
  cas --delete KEY EXPECTED         delete the key if its value is EXPECTED`;

export async function putCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {});
  const [key, value] = expectPositionals(p, 2, 2, 'tessera put KEY VALUE');
  const g = p.global;
  const k = decodeArg(key!, g.encoding, 'KEY');
  const v = decodeArg(value!, g.encoding, 'VALUE');
  await withClient(g, (c) => c.put(k, v));
  io.out(g.json ? json({ ok: true, key: key }) : 'OK');
  return EXIT_OK;
}

export async function getCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { stale: { type: 'boolean' } });
  const [key] = expectPositionals(p, 1, 1, 'tessera get KEY [--stale]');
  const g = p.global;
  const k = decodeArg(key!, g.encoding, 'KEY');
  const value = await withClient(g, (c) =>
    c.get(k, { consistency: p.values.stale === true ? 'stale' : 'linearizable' }),
  );
  if (value === null) {
    if (g.json) io.out(json({ key, found: false }));
    io.err(`key not found: ${key}`);
    return EXIT_FAILED;
  }
  io.out(g.json ? json({ key, found: true, value: encodeBytes(value, g.encoding) }) : encodeBytes(value, g.encoding));
  return EXIT_OK;
}

export async function delCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {});
  const [key] = expectPositionals(p, 1, 1, 'tessera del KEY');
  const g = p.global;
  const existed = await withClient(g, (c) => c.delete(decodeArg(key!, g.encoding, 'KEY')));
  io.out(g.json ? json({ key, deleted: existed }) : existed ? 'deleted' : 'not found (nothing deleted)');
  return EXIT_OK;
}

export async function scanCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { limit: { type: 'string' }, 'keys-only': { type: 'boolean' }, stale: { type: 'boolean' } });
  const [start, end] = expectPositionals(p, 0, 2, 'tessera scan [START [END]] [--limit N] [--keys-only]');
  const g = p.global;
  const limit = p.values.limit === undefined ? undefined : intOption(p.values, 'limit', 0, 1);
  const keysOnly = p.values['keys-only'] === true;
  const items: { key: string; value?: string }[] = [];
  await withClient(g, async (c) => {
    const pages = c.scan(
      start === undefined ? '' : decodeArg(start, g.encoding, 'START'),
      end === undefined ? null : decodeArg(end, g.encoding, 'END'),
      {
        limit,
        consistency: p.values.stale === true ? 'stale' : 'linearizable',
      },
    );
    for await (const page of pages) {
      for (const kv of page.items) {
        const key = encodeBytes(kv.key, g.encoding);
        const value = encodeBytes(kv.value, g.encoding);
        if (g.json) items.push(keysOnly ? { key } : { key, value });
        else io.out(keysOnly ? key : `${key}\t${value}`);
      }
    }
  });
  if (g.json) io.out(json({ count: items.length, items }));
  return EXIT_OK;
}

export async function casCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { absent: { type: 'boolean' }, delete: { type: 'boolean' } });
  const absent = p.values.absent === true;
  const del = p.values.delete === true;
  const want = 3 - (absent ? 1 : 0) - (del ? 1 : 0);
  const usage = 'tessera cas KEY EXPECTED NEW | cas --absent KEY NEW | cas --delete KEY EXPECTED';
  const args = expectPositionals(p, want, want, usage);
  const g = p.global;
  const key = args[0]!;
  const expected = absent ? null : args[1]!;
  const next = del ? null : args[absent ? 1 : 2]!;
  if (want < 1) throw new UsageError(`usage: ${usage}`);
  const r = await withClient(g, (c) =>
    c.compareAndSwap(
      decodeArg(key, g.encoding, 'KEY'),
      expected === null ? null : decodeArg(expected, g.encoding, 'EXPECTED'),
      next === null ? null : decodeArg(next, g.encoding, 'NEW'),
    ),
  );
  const current = r.current === null ? null : encodeBytes(r.current, g.encoding);
  if (g.json) io.out(json({ key, succeeded: r.succeeded, current }));
  else if (r.succeeded) io.out('OK');
  if (!r.succeeded) {
    io.err(
      current === null ? `compare failed: ${key} is absent` : `compare failed: current value of ${key} is ${current}`,
    );
    return EXIT_FAILED;
  }
  return EXIT_OK;
}
