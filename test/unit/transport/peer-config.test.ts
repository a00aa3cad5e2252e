/**
 * The peer door's configuration: with --peer-listen, --peers names peer addresses and the node's client
 * address (what the handshake and NOT_LEADER hints carry) is --listen; peer TLS needs the peer listener.
 */
import { describe, expect, it } from 'vitest';
import { loadNodeConfig } from '../../../src/config';

const load = (...argv: string[]) => loadNodeConfig({ argv: ['--id', '1', '--data-dir', '/tmp/x', ...argv], env: {} });

describe('peer door config', () => {
  it('without --peer-listen, the client address is the --peers entry, as before', () => {
    const c = load('--listen', '0.0.0.0:7001', '--peers', '1=10.0.0.1:7001,2=10.0.0.2:7001');
    expect(c.peerListen).toBeNull();
    expect(c.advertiseAddress).toBe('10.0.0.1:7001');
  });

  it('with --peer-listen, --peers names peer addresses and the client address is --listen (wildcard host from --peers)', () => {
    const c = load(
      '--listen',
      '0.0.0.0:7001',
      '--peer-listen',
      '0.0.0.0:8001',
      '--peers',
      '1=10.0.0.1:8001,2=10.0.0.2:8001',
    );
    expect(c.advertiseAddress).toBe('10.0.0.1:7001');
    expect(c.peers.get(1)).toBe('10.0.0.1:8001');
    expect(
      load('--listen', '127.0.0.1:7001', '--peer-listen', '127.0.0.1:8001', '--peers', '1=127.0.0.1:8001')
        .advertiseAddress,
    ).toBe('127.0.0.1:7001');
    expect(
      load(
        '--listen',
        '0.0.0.0:7001',
        '--peer-listen',
        '0.0.0.0:8001',
        '--advertise',
        'db1:7001',
        '--peers',
        '1=10.0.0.1:8001',
      ).advertiseAddress,
    ).toBe('db1:7001');
  });

  it('a joining node with --peer-listen announces its peer listener as its peer address', () => {
    const c = load(
      '--join',
      '--listen',
      '10.0.0.9:7001',
      '--peer-listen',
      '10.0.0.9:8001',
      '--peers',
      '2=10.0.0.2:8001',
    );
    expect(c.advertiseAddress).toBe('10.0.0.9:7001');
    expect(c.peers.get(1)).toBe('10.0.0.9:8001');
  });

  it('peer TLS without --peer-listen is refused with a clear message', () => {
    expect(() =>
      load(
        '--listen',
        '127.0.0.1:7001',
        '--peers',
        '1=127.0.0.1:7001',
        '--peer-tls-cert',
        'c.pem',
        '--peer-tls-key',
        'k.pem',
        '--peer-tls-ca',
        'ca.pem',
      ),
    ).toThrow(/--peer-tls-cert requires --peer-listen/);
    const c = load(
      '--listen',
      '127.0.0.1:7001',
      '--peer-listen',
      '127.0.0.1:8001',
      '--peers',
      '1=127.0.0.1:8001',
      '--peer-tls-cert',
      'c.pem',
      '--peer-tls-key',
      'k.pem',
      '--peer-tls-ca',
      'ca.pem',
    );
    expect(c.peerTls).toEqual({ cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' });
  });
});
