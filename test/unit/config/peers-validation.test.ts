import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';

// --peers must name reachable addresses, one per item: empty items and wildcard hosts are refused; a
// wildcard --listen stays allowed (it is a bind address).

function load(argv: string[]) {
  return loadNodeConfig({ argv, env: {} });
}

function configError(argv: string[]): string {
  try {
    load(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    expect((e as TesseraError).code).toBe('CONFIG');
    return (e as Error).message;
  }
  throw new Error(`expected a CONFIG error for ${argv.join(' ')}`);
}

const withPeers = (peers: string, listen = '127.0.0.1:7001') => [
  '--id',
  '1',
  '--listen',
  listen,
  '--peers',
  peers,
  '--data-dir',
  'd',
];

describe('--peers validation', () => {
  it('refuses empty items: a double comma, a trailing comma, a leading comma and a bare =', () => {
    expect(configError(withPeers('1=a:1,,2=b:2'))).toMatch(/--peers: item 2 of 3 is empty/);
    expect(configError(withPeers('1=a:1,2=b:2,'))).toMatch(/--peers: item 3 of 3 is empty/);
    expect(configError(withPeers(',1=a:1'))).toMatch(/--peers: item 1 of 2 is empty/);
    expect(configError(withPeers('1=a:1,='))).toMatch(/--peers: '=' is not ID=HOST:PORT/);
    expect(configError(withPeers('1=a:1, ,2=b:2'))).toMatch(/item 2 of 3 is empty/);
  });

  it('refuses wildcard and empty hosts with a hint', () => {
    for (const host of ['0.0.0.0', '[::]', '[0:0::0]', '0']) {
      const m = configError(withPeers(`1=${host}:7001,2=b:2`));
      expect(m).toContain(`--peers (node 1): ${host} is a wildcard bind address`);
      expect(m).toContain(
        'peers must be reachable addresses; use --listen 0.0.0.0:P with --peers ID=<reachable host>:P',
      );
    }
    expect(configError(withPeers('1=:7001,2=b:2'))).toMatch(
      /--peers \(node 1\): ':7001' has no host; peers must be reachable/,
    );
    expect(configError(withPeers('1=::7001'))).toMatch(/has no host/);
    expect(configError(withPeers('1=a:1,2=0.0.0.0:2'))).toMatch(/node 2\): 0\.0\.0\.0 is a wildcard/);
  });

  it('keeps --listen 0.0.0.0 with reachable peer addresses, and real hosts that merely contain zeros', () => {
    const c = load(withPeers('1=10.0.0.1:7001,2=10.0.0.2:7001', '0.0.0.0:7001'));
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 7001 });
    expect(c.peers.get(1)).toBe('10.0.0.1:7001');
    expect(load(withPeers('1=10.0.0.0:1,2=[::1]:2,3=n0:3')).peers.size).toBe(3);
    expect(load(['--id', '1', '--listen', '[::]:7001', '--peers', '1=[::1]:7001', '--data-dir', 'd']).listen.host).toBe(
      '[::]',
    );
  });

  it('refuses a joining node that would announce a wildcard address', () => {
    const join = ['--id', '4', '--listen', '0.0.0.0:7004', '--peers', '1=a:1', '--data-dir', 'd', '--join'];
    expect(configError(join)).toMatch(
      /0\.0\.0\.0:7004 is a wildcard bind address other nodes cannot reach; give --advertise/,
    );
    expect(load([...join, '--advertise', 'n4:7004']).peers.get(4)).toBe('n4:7004');
    expect(configError([...withPeers('1=a:1'), '--advertise', '0.0.0.0:1'])).toMatch(
      /--advertise: 0\.0\.0\.0:1 is a wildcard/,
    );
  });
});
