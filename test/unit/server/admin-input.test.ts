import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { MEMBER_ADDRESS_BYTES_MAX, checkMemberAddress } from '../../../src/server/member-address';

function refusal(value: unknown): TesseraError {
  try {
    checkMemberAddress(value, 'address');
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error(`accepted ${String(value).slice(0, 40)}`);
}

describe('Admin AddNode member address bounds', () => {
  it('accepts names, IPv4 and bracketed IPv6 hosts with a real port', () => {
    for (const a of ['127.0.0.1:7001', 'node-4.example.internal:7001', '[::1]:7001', 'n4:65535'])
      expect(checkMemberAddress(a, 'address')).toBe(a);
  });

  it('refuses a 10 KiB address, malformed or wildcard addresses and port 0 with INVALID_ARGUMENT', () => {
    const huge = refusal(`${'a'.repeat(10 * 1024)}:7001`);
    expect(huge.code).toBe('INVALID_ARGUMENT');
    expect(huge.details.limit).toBe('addressBytesMax');
    expect(huge.message.length).toBeLessThan(200); // the address is not echoed back
    expect(checkMemberAddress(`${'a'.repeat(MEMBER_ADDRESS_BYTES_MAX - 5)}:7001`, 'address')).toHaveLength(
      MEMBER_ADDRESS_BYTES_MAX,
    );
    expect(refusal(`${'a'.repeat(MEMBER_ADDRESS_BYTES_MAX - 4)}:7001`).details.limit).toBe('addressBytesMax');
    for (const bad of [
      '',
      'nohost',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:70000',
      'a b:1',
      'host:1\n',
      'höst:1',
      ':7001',
      42,
      null,
      undefined,
    ]) {
      expect(refusal(bad).code).toBe('INVALID_ARGUMENT');
    }
    for (const wildcard of ['0.0.0.0:7001', '[::]:7001', '0:7001'])
      expect(refusal(wildcard).message).toMatch(/wildcard/);
  });
});
