/**
 * Jittered exponential backoff between retries: attempt n (0-based) waits a uniformly random time in
 * [cap/2, cap] with cap = min(maxMs, baseMs * 2^n) ("equal jitter": never zero, so a tight failure loop
 * still yields, and spread out so many clients do not retry in lockstep).
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random01: () => number = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 20));
  return cap / 2 + random01() * (cap / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
