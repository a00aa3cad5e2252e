import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { DEFAULTS, SESSION_TTL_MS_MIN, envName, flagName, loadNodeConfig, optionUsage } from '../../../src/config';

const base = [
  '--id',
  '1',
  '--listen',
  '127.0.0.1:7001',
  '--peers',
  '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003',
  '--data-dir',
  '/tmp/x',
];

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

describe('config', () => {
  it('fills every default from the minimal flags', () => {
    const c = load(base);
    expect(c.id).toBe(1);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7001 });
    expect([...c.peers.entries()]).toEqual([
      [1, '127.0.0.1:7001'],
      [2, '127.0.0.1:7002'],
      [3, '127.0.0.1:7003'],
    ]);
    expect(c.advertiseAddress).toBe('127.0.0.1:7001');
    expect(c.http).toBeNull();
    expect(c.timing).toEqual({ heartbeatMs: 100, electionMs: 1000, tickMs: 50, heartbeatTicks: 2, electionTicks: 20 });
    expect(c.limits.keyBytesMax).toBe(4096);
    expect(c.limits.valueBytesMax).toBe(1024 * 1024);
    expect(c.limits.batchOpsMax).toBe(128);
    expect(c.limits.batchBytesMax).toBe(4 * 1024 * 1024);
    expect(c.snapshotEntries).toBe(10_000);
    expect(c.logRetainEntries).toBe(1000);
    expect(c.unsafeStaleReads).toBe(false);
    expect(c.join).toBe(false);
    expect(c.raft.lazyCommit).toBe(true);
  });

  it('turns lazy commit off with --lazy-commit false or TESSERA_LAZY_COMMIT=false', () => {
    expect(load([...base, '--lazy-commit', 'false']).raft.lazyCommit).toBe(false);
    expect(load(base, { TESSERA_LAZY_COMMIT: 'false' }).raft.lazyCommit).toBe(false);
  });

  it('applies the low-latency profile and lets explicit timing override it', () => {
    const c = load([...base, '--profile', 'low-latency']);
    expect(c.timing).toMatchObject({
      heartbeatMs: 20,
      electionMs: 200,
      tickMs: 10,
      heartbeatTicks: 2,
      electionTicks: 20,
    });
    const d = load([...base, '--profile', 'low-latency', '--election-ms', '300']);
    expect(d.timing.electionMs).toBe(300);
    expect(d.timing.electionTicks).toBe(30);
  });

  it('reads environment variables, and flags win over them', () => {
    const env = {
      TESSERA_ID: '2',
      TESSERA_LISTEN: '127.0.0.1:7002',
      TESSERA_PEERS: '2=127.0.0.1:7002',
      TESSERA_DATA_DIR: '/d',
      TESSERA_HTTP: '127.0.0.1:7102',
      TESSERA_UNSAFE_STALE_READS: 'true',
      TESSERA_HEARTBEAT_MS: '50',
    };
    const c = load([], env);
    expect(c.id).toBe(2);
    expect(c.http).toEqual({ host: '127.0.0.1', port: 7102 });
    expect(c.unsafeStaleReads).toBe(true);
    expect(c.timing.heartbeatMs).toBe(50);
    expect(load(['--heartbeat-ms', '200'], env).timing.heartbeatMs).toBe(200);
  });

  it('reads a JSON config file with camelCase or flag keys; env and flags override it', () => {
    const file = JSON.stringify({
      id: 3,
      listen: '127.0.0.1:7003',
      peers: { '3': '127.0.0.1:7003' },
      'data-dir': '/f',
      valueBytesMax: 2048,
      unsafeStaleReads: true,
    });
    const c = load(['--config', '/c.json'], {}, { '/c.json': file });
    expect(c.id).toBe(3);
    expect(c.dataDir).toBe('/f');
    expect(c.limits.valueBytesMax).toBe(2048);
    expect(c.unsafeStaleReads).toBe(true);
    expect(load(['--config', '/c.json', '--value-bytes-max', '10'], {}, { '/c.json': file }).limits.valueBytesMax).toBe(
      10,
    );
    expect(configError(() => load(['--config', '/nope.json']))).toMatch(/cannot read config file \/nope.json/);
    expect(configError(() => load(['--config', '/c.json'], {}, { '/c.json': '{"bogus": 1}' }))).toMatch(
      /unknown key 'bogus'/,
    );
    expect(configError(() => load(['--config', '/c.json'], {}, { '/c.json': '{' }))).toMatch(/not valid JSON/);
  });

  it('accepts --flag=value and boolean flags with and without a value', () => {
    expect(load([...base, '--unsafe-stale-reads']).unsafeStaleReads).toBe(true);
    expect(load([...base, '--unsafe-stale-reads', 'false']).unsafeStaleReads).toBe(false);
    expect(load([...base, '--snapshot-entries=50']).snapshotEntries).toBe(50);
    expect(load([...base, '--snapshot-entries=50']).logRetainEntries).toBe(5);
  });

  it('rejects bad input with messages naming the option', () => {
    expect(configError(() => load(base.slice(2)))).toMatch(/missing required option --id/);
    expect(configError(() => load([...base, '--bogus', '1']))).toMatch(/unknown option '--bogus'/);
    expect(configError(() => load([...base, '--heartbeat-ms', 'abc']))).toMatch(
      /--heartbeat-ms: 'abc' is not an integer/,
    );
    expect(configError(() => load([...base, '--heartbeat-ms', '0']))).toMatch(/--heartbeat-ms: 0 is out of range/);
    expect(configError(() => load([...base, '--election-ms', '200']))).toMatch(/at least 3x the heartbeat/);
    expect(configError(() => load([...base, '--profile', 'fast']))).toMatch(
      /--profile: 'fast' is not one of default, low-latency/,
    );
    expect(configError(() => load(['--id', '4', ...base.slice(2)]))).toMatch(/must include this node \(id 4\)/);
    expect(configError(() => load([...base.slice(0, 4), '--peers', '1=nowhere', '--data-dir', 'd']))).toMatch(
      /'nowhere' is not HOST:PORT/,
    );
    expect(configError(() => load([...base.slice(0, 4), '--peers', '1=a:1,1=b:2', '--data-dir', 'd']))).toMatch(
      /node id 1 appears twice/,
    );
    expect(configError(() => load([...base.slice(0, 4), '--peers', 'x=a:1', '--data-dir', 'd']))).toMatch(
      /'x' is not a node id/,
    );
    expect(configError(() => load([...base, '--http', 'h:70000']))).toMatch(/port 70000 is out of range/);
    expect(configError(() => load([...base, '--unsafe-stale-reads=maybe']))).toMatch(/not true or false/);
    expect(configError(() => load([...base, '--heartbeat-ms']))).toMatch(/needs a value/);
    expect(configError(() => load(['start', ...base]))).toMatch(/unexpected argument 'start'/);
  });

  it('lets a repeated flag override the earlier one', () => {
    expect(load([...base, '--heartbeat-ms', '50', '--heartbeat-ms', '60']).timing.heartbeatMs).toBe(60);
  });

  it('joins without being in --peers', () => {
    const c = load([
      '--id',
      '4',
      '--listen',
      '127.0.0.1:7004',
      '--peers',
      '1=127.0.0.1:7001',
      '--data-dir',
      'd',
      '--join',
    ]);
    expect(c.join).toBe(true);
    expect(c.peers.get(4)).toBe('127.0.0.1:7004');
  });

  it('spells names consistently', () => {
    expect(flagName('heartbeatMs')).toBe('--heartbeat-ms');
    expect(envName('unsafeStaleReads')).toBe('TESSERA_UNSAFE_STALE_READS');
    expect(envName('dataDir')).toBe('TESSERA_DATA_DIR');
  });
});

/** The sessionTtlMs option: default, its three spellings, and its validation. */
describe('config sessionTtlMs', () => {
  it('defaults to one hour', () => {
    expect(DEFAULTS.sessionTtlMs).toBe(3_600_000);
    expect(load(base).sessionTtlMs).toBe(3_600_000);
  });

  it('is set by --session-ttl-ms, TESSERA_SESSION_TTL_MS or the config file key; the flag wins', () => {
    expect(load([...base, '--session-ttl-ms', '120000']).sessionTtlMs).toBe(120_000);
    expect(load(base, { TESSERA_SESSION_TTL_MS: '90000' }).sessionTtlMs).toBe(90_000);
    expect(load([...base, '--config', '/c.json'], {}, { '/c.json': '{"sessionTtlMs": 7200000}' }).sessionTtlMs).toBe(
      7_200_000,
    );
    expect(load([...base, '--session-ttl-ms=600000'], { TESSERA_SESSION_TTL_MS: '90000' }).sessionTtlMs).toBe(600_000);
    expect(optionUsage()).toMatch(/--session-ttl-ms N .*TESSERA_SESSION_TTL_MS/);
  });

  it('rejects a TTL below the minimum, not above the request timeout, or not an integer, naming the source', () => {
    expect(SESSION_TTL_MS_MIN).toBe(60_000);
    expect(load([...base, '--session-ttl-ms', String(SESSION_TTL_MS_MIN)]).sessionTtlMs).toBe(SESSION_TTL_MS_MIN);
    expect(configError(() => load([...base, '--session-ttl-ms', '59999']))).toMatch(
      /--session-ttl-ms: 59999 is out of range 60000\.\./,
    );
    expect(configError(() => load(base, { TESSERA_SESSION_TTL_MS: '0' }))).toMatch(
      /TESSERA_SESSION_TTL_MS: 0 is out of range/,
    );
    expect(configError(() => load([...base, '--session-ttl-ms', '1h']))).toMatch(
      /--session-ttl-ms: '1h' is not an integer/,
    );
    expect(configError(() => load([...base, '--session-ttl-ms', '60000', '--request-timeout-ms', '60000']))).toMatch(
      /--session-ttl-ms \(60000\) must exceed --request-timeout-ms \(60000\)/,
    );
    expect(load([...base, '--session-ttl-ms', '60001', '--request-timeout-ms', '60000']).sessionTtlMs).toBe(60_001);
  });
});

/**
 * --snapshot-bytes (TESSERA_SNAPSHOT_BYTES, snapshotBytes): the bytes of applied entries the in-memory Raft
 * log may hold before compaction. Defaults to an eighth of the memory budget; at least 1 MiB and at most
 * half the budget (the log is part of the node's baseline).
 */
describe('--snapshot-bytes', () => {
  const MIB = 1024 * 1024;

  it('defaults to an eighth of the memory budget', () => {
    expect(load(base).snapshotBytes).toBe(64 * MIB);
    expect(load([...base, '--memory-budget-mib', '256']).snapshotBytes).toBe(32 * MIB);
    expect(load([...base, '--memory-budget-mib', '64']).snapshotBytes).toBe(8 * MIB);
  });

  it('is read from the flag and the environment', () => {
    expect(load([...base, '--snapshot-bytes', String(3 * MIB)]).snapshotBytes).toBe(3 * MIB);
    expect(load(base, { TESSERA_SNAPSHOT_BYTES: String(5 * MIB) }).snapshotBytes).toBe(5 * MIB);
  });

  it('refuses values below 1 MiB, above half the budget, and non-integers', () => {
    expect(configError(() => load([...base, '--snapshot-bytes', '1000']))).toMatch(/--snapshot-bytes.*out of range/);
    const over = [...base, '--memory-budget-mib', '128', '--snapshot-bytes', String(65 * MIB)];
    expect(configError(() => load(over))).toMatch(/--snapshot-bytes .* at most half the memory budget/);
    const half = [...base, '--memory-budget-mib', '128', '--snapshot-bytes', String(64 * MIB)];
    expect(load(half).snapshotBytes).toBe(64 * MIB);
    expect(configError(() => load([...base, '--snapshot-bytes', '2MiB']))).toMatch(/--snapshot-bytes.*not an integer/);
  });
});

describe('--inflight-bytes-max', () => {
  const MIB = 1024 * 1024;

  it('defaults to a sixteenth of the memory budget and reaches the Raft options', () => {
    expect(load(base).raft.inflightBytesMax).toBe(32 * MIB);
    expect(load([...base, '--memory-budget-mib', '128']).raft.inflightBytesMax).toBe(8 * MIB);
    expect(load([...base, '--inflight-bytes-max', '65536']).raft.inflightBytesMax).toBe(65536);
    expect(configError(() => load([...base, '--inflight-bytes-max', '10']))).toMatch(/--inflight-bytes-max.*range/);
  });
});
