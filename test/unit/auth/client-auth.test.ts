import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { ClientAuth, LOGIN_BUDGET_MS, type LoginAttempt } from '../../../src/client/client-auth';

/** A fake Auth.Login: counts calls, answers tokens t1, t2, ... valid for `ttlMs`, after `delayMs`. */
function fakeLogin(now: { ms: number }, ttlMs = 1000, delayMs = 0) {
  const calls: string[] = [];
  const login: LoginAttempt = async (user, password) => {
    calls.push(`${user}:${password}`);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (password !== 'pw')
      return { ok: false, failure: { kind: 'server', error: new TesseraError('UNAUTHENTICATED', 'invalid') } };
    return { ok: true, token: `t${calls.length}`, expiresAtMs: now.ms + ttlMs };
  };
  return { login, calls };
}

describe('ClientAuth (SDK login)', () => {
  it('logs in once for many concurrent calls and reuses the token', async () => {
    const now = { ms: 0 };
    const { login, calls } = fakeLogin(now, 1000, 5);
    const auth = new ClientAuth('u', 'pw', () => now.ms);
    expect(auth.current()).toBeNull();
    const results = await Promise.all(Array.from({ length: 10 }, () => auth.ensure(login, 100)));
    expect(results.every((r) => r === null)).toBe(true);
    expect(calls).toEqual(['u:pw']);
    expect(auth.current()).toBe('t1');
    expect(auth.generation).toBe(1);
    await auth.ensure(login, 100);
    expect(calls).toHaveLength(1);
  });

  it('logs in again past 80% of the token lifetime, and after the node refused the current token', async () => {
    const now = { ms: 0 };
    const { login, calls } = fakeLogin(now, 1000);
    const auth = new ClientAuth('u', 'pw', () => now.ms);
    await auth.ensure(login, 100);
    now.ms = 799;
    await auth.ensure(login, 100);
    expect(calls).toHaveLength(1);
    now.ms = 800;
    await auth.ensure(login, 100);
    expect(auth.current()).toBe('t2');
    // A refusal of an older token does not throw away the newer one.
    auth.invalidate('t1');
    await auth.ensure(login, 100);
    expect(calls).toHaveLength(2);
    auth.invalidate('t2');
    await auth.ensure(login, 100);
    expect(auth.current()).toBe('t3');
    expect(auth.generation).toBe(3);
  });

  it('a caller with a short budget gives up waiting; the login goes on with its own budget for the others', async () => {
    const now = { ms: 0 };
    const budgets: number[] = [];
    const { login: slow } = fakeLogin(now, 1000, 150);
    const login: LoginAttempt = (u, p, timeoutMs) => {
      budgets.push(timeoutMs);
      return slow(u, p, timeoutMs);
    };
    const auth = new ClientAuth('u', 'pw', () => now.ms);
    const timedOut = () => ({ kind: 'timeout' as const, error: new TesseraError('DEADLINE_EXCEEDED', 'gave up') });
    const short = auth.ensure(login, 20, timedOut);
    const patient = auth.ensure(login, 5000, timedOut);
    expect((await short)?.error.code).toBe('DEADLINE_EXCEEDED');
    expect(await patient).toBeNull();
    expect(auth.current()).toBe('t1');
    expect(budgets).toEqual([LOGIN_BUDGET_MS]); // one login, not bounded by the first caller's 20 ms
  });

  it('returns the login failure (a wrong password) and keeps no token', async () => {
    const now = { ms: 0 };
    const { login } = fakeLogin(now);
    const auth = new ClientAuth('u', 'wrong', () => now.ms);
    const failure = await auth.ensure(login, 100);
    expect(failure?.error.code).toBe('UNAUTHENTICATED');
    expect(auth.current()).toBeNull();
  });
});
