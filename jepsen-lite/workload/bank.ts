/**
 * Bank workload: accounts kept under `jl/b/` (one shard: adjacent keys), created once with equal
 * balances. A transfer reads both balances, then writes both in one Batch guarded by compares on the
 * values it read, so it applies atomically or not at all and the total never changes. Reads fetch every
 * account in one Batch of gets. History key "bank"; see ../checker/bank-checker.ts for the shapes.
 */
import type { Random } from '../../src/base';
import { errorName } from './outcome';
import type { Completion } from './recorder';
import { keyPrefix, type KvClient, type OpSpec, type Workload } from './workload';
import type { Transfer } from '../history';

export interface BankWorkloadOptions {
  accounts: number;
  initialBalance: number;
  amountMax: number;
  readFraction: number;
}

export const defaultBankOptions: BankWorkloadOptions = {
  accounts: 5,
  initialBalance: 10,
  amountMax: 5,
  readFraction: 0.3,
};

const bankKey = 'bank';
const accountKey = (a: string): string => `${keyPrefix}b/${a}`;

export class BankWorkload implements Workload {
  readonly name = 'bank' as const;
  readonly pinnedReaders = false;
  readonly accounts: string[];

  constructor(private readonly opts: BankWorkloadOptions) {
    if (opts.accounts < 2) throw new RangeError('bank: at least 2 accounts');
    this.accounts = Array.from({ length: opts.accounts }, (_, i) => `a${i}`);
  }

  get total(): number {
    return this.opts.accounts * this.opts.initialBalance;
  }

  async setup(client: KvClient, deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    let last: unknown = null;
    while (Date.now() < end) {
      try {
        const r = await client.batch({
          compares: this.accounts.map((a) => ({ key: accountKey(a), expected: null })),
          ops: this.accounts.map((a) => ({
            op: 'put' as const,
            key: accountKey(a),
            value: String(this.opts.initialBalance),
          })),
        });
        if (r.succeeded) return;
        // A retried setup whose first attempt was applied: accept it if the balances are the initial ones.
        const balances = await this.readBalances(client, 2000);
        if (Object.values(balances).every((b) => b === this.opts.initialBalance)) return;
        throw new Error(`bank accounts already exist with other balances: ${JSON.stringify(balances)}`);
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`bank setup failed: ${last instanceof Error ? last.message : String(last)}`);
  }

  nextOp(rng: Random): OpSpec {
    if (rng.chance(this.opts.readFraction)) return { f: 'read', key: bankKey, value: null };
    const from = rng.pick(this.accounts);
    const to = rng.pick(this.accounts.filter((a) => a !== from));
    const t: Transfer = { from, to, amount: rng.int(1, this.opts.amountMax) };
    return { f: 'transfer', key: bankKey, value: t as unknown as OpSpec['value'] };
  }

  readOnly(op: OpSpec): boolean {
    return op.f === 'read';
  }

  private async readBalances(
    client: KvClient,
    deadlineMs: number,
    only?: readonly string[],
  ): Promise<Record<string, number>> {
    const names = only ?? this.accounts;
    const r = await client.batch(
      { ops: names.map((a) => ({ op: 'get' as const, key: accountKey(a) })) },
      { deadlineMs },
    );
    const out: Record<string, number> = {};
    names.forEach((a, i) => {
      const v = r.results[i];
      if (v !== null && v !== undefined) out[a] = Number(v.toString('utf8'));
    });
    return out;
  }

  async execute(client: KvClient, op: OpSpec, deadlineMs: number): Promise<Completion> {
    if (op.f === 'read') return { type: 'ok', value: await this.readBalances(client, deadlineMs) };
    if (op.f !== 'transfer') throw new RangeError(`bank cannot execute ${op.f}`);
    const t = op.value as unknown as Transfer;
    let before: Record<string, number>;
    try {
      before = await this.readBalances(client, deadlineMs, [t.from, t.to]);
    } catch (e) {
      return { type: 'fail', error: `read-before-transfer: ${errorName(e)}` };
    }
    const fromBal = before[t.from];
    const toBal = before[t.to];
    if (fromBal === undefined || toBal === undefined) return { type: 'fail', error: 'account-missing' };
    if (fromBal < t.amount) return { type: 'fail', error: 'insufficient-funds' };
    const r = await client.batch(
      {
        compares: [
          { key: accountKey(t.from), expected: String(fromBal) },
          { key: accountKey(t.to), expected: String(toBal) },
        ],
        ops: [
          { op: 'put', key: accountKey(t.from), value: String(fromBal - t.amount) },
          { op: 'put', key: accountKey(t.to), value: String(toBal + t.amount) },
        ],
      },
      { deadlineMs },
    );
    if (!r.succeeded) return { type: 'fail', error: 'compare-failed' };
    return { type: 'ok', value: op.value };
  }

  finalOps(): OpSpec[] {
    return [{ f: 'read', key: bankKey, value: null }];
  }
}
