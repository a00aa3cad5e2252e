/** The sessionTtlMs option: default, its three spellings, and its validation. */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { DEFAULTS, SESSION_TTL_MS_MIN, loadNodeConfig, optionUsage } from '../../../src/config';

const base = ['--id', '1', '--listen', '127.0.0.1:7001', '--peers', '1=127.0.0.1:7001', '--data-dir', '/tmp/x'];

function load(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) {
  return loadNodeConfig({
    argv,
    env,
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw new Error('ENOENT');
      return t;
    },
  });
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    expect((e as TesseraError).code).toBe('CONFIG');
    return (e as Error).message;
  }
  throw new Error('expected a CONFIG error');
}

describe('config sessionTtlMs', () => {
  it('defaults to one hour', () => {
    expect(DEFAULTS.sessionTtlMs).toBe(3_600_000);
    expect(load(base).sessionTtlMs).toBe(3_600_000);
  });

  it('is set by --session-ttl-ms, TESSERA_SESSION_TTL_MS or the config file key; the flag wins', () => {
    expect(load([...base, '--session-ttl-ms', '120000']).sessionTtlMs).toBe(120_000);
    expect(load(base, { TESSERA_SESSION_TTL_MS: '90000' }).sessionTtlMs).toBe(90_000);
    expect(load([...base, '--config', '/c.json'], {}, { '/c.json': '{"sessionTtlMs": 7200000}' }).sessionTtlMs).toBe(7_200_000);
    expect(load([...base, '--session-ttl-ms=600000'], { TESSERA_SESSION_TTL_MS: '90000' }).sessionTtlMs).toBe(600_000);
    expect(optionUsage()).toMatch(/--session-ttl-ms N .*TESSERA_SESSION_TTL_MS/);
  });

  it('rejects a TTL below the minimum, not above the request timeout, or not an integer, naming the source', () => {
    expect(SESSION_TTL_MS_MIN).toBe(60_000);
    expect(load([...base, '--session-ttl-ms', String(SESSION_TTL_MS_MIN)]).sessionTtlMs).toBe(SESSION_TTL_MS_MIN);
    expect(configError(() => load([...base, '--session-ttl-ms', '59999']))).toMatch(/--session-ttl-ms: 59999 is out of range 60000\.\./);
    expect(configError(() => load(base, { TESSERA_SESSION_TTL_MS: '0' }))).toMatch(/TESSERA_SESSION_TTL_MS: 0 is out of range/);
    expect(configError(() => load([...base, '--session-ttl-ms', '1h']))).toMatch(/--session-ttl-ms: '1h' is not an integer/);
    expect(configError(() => load([...base, '--session-ttl-ms', '60000', '--request-timeout-ms', '60000']))).toMatch(
      /--session-ttl-ms \(60000\) must exceed --request-timeout-ms \(60000\)/,
    );
    expect(load([...base, '--session-ttl-ms', '60001', '--request-timeout-ms', '60000']).sessionTtlMs).toBe(60_001);
  });
});
