/**
 * Wing-Gong-Lowe linearizability search for one key, with Lowe's improvements as in Porcupine:
 *  - the history is a doubly-linked list of call and return entries in real-time order; linearizing an op
 *    lifts its call and return out of the list, backtracking puts them back (dancing links: undo in
 *    reverse order);
 *  - a cache of (linearized-op set, state) pairs already explored prunes repeated configurations. The set
 *    is a bitset, hashed incrementally (xor of a fixed random word per op); the cache stores bitsets in
 *    flat typed arrays, compared exactly, so a hash collision never prunes wrongly.
 * Plus one pruning of ours, sound for any model: a read-only op (read, mismatch observation) that can be
 * linearized now may be linearized first without loss of generality (it changes no state and nothing
 * must precede it). So at each new level an applicable read-only candidate is taken as the only choice,
 * and backtracking out of one continues to the level above. On the 227 public vectors this cuts the CPU
 * time by about a third.
 * Optional ops (info/pending) have no return entry (return time +infinity): the search may linearize them
 * or not, and succeeds as soon as every required op is linearized.
 *
 * The search is resumable: `run(steps)` does about `steps` units of work (loop iterations and scanned
 * entries) and returns 'running' when it has not decided yet, so a scheduler can interleave many keys. It never gives a wrong verdict: it only
 * answers 'illegal' after exhausting the search space.
 */
import { assert } from '../../../src/base';
import { OpKind, type ModelOp, type ValueTable } from './register-model';

export type SearchStatus = 'linearizable' | 'illegal' | 'running' | 'out-of-memory';

/** JS Maps hold at most 2^24 entries; stay below. */
const CACHE_ENTRIES_HARD_MAX = 16_000_000;
const MAP_ENTRY_BYTES = 48;

function mix32(x: number): number {
  // splitmix32-style finalizer: deterministic per-op hash words.
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export interface SearchLimits {
  /** Bytes the cache may use before the search gives up with 'out-of-memory'. */
  cacheBytesMax: number;
}

export class WglSearch {
  readonly opCount: number;
  private readonly kind: Int8Array;
  private readonly argA: Int32Array;
  private readonly argB: Int32Array;
  private readonly suffix: string[];
  private readonly required: Uint8Array;
  private readonly readOnly: Uint8Array;
  private readonly hashWord: Uint32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  private readonly tail: number;
  private readonly words: number;
  private readonly bits: Uint32Array;
  private readonly stackOp: Int32Array;
  private readonly stackState: Int32Array;
  private readonly appendMemo = new Map<number, number>();

  // Cache arena.
  private readonly cacheIndex = new Map<number, number>();
  private cacheBits: Uint32Array;
  private cacheState: Int32Array;
  private cacheNext: Int32Array;
  private cacheCount = 0;
  private readonly cacheEntriesMax: number;

  // Resumable search state.
  private entry: number;
  private state: number;
  private depth = 0;
  private requiredLeft = 0;
  private hash = 0;
  private status: SearchStatus = 'running';
  /** True when the search just arrived at a new level (the read-first scan has not run there). */
  private freshLevel = true;
  /** Loop iterations done so far. */
  steps = 0;
  /** Deepest stack reached (number of ops linearized at once). */
  maxDepth = 0;

  constructor(
    ops: readonly ModelOp[],
    initialState: number,
    private readonly values: ValueTable,
    limits: SearchLimits,
  ) {
    const n = ops.length;
    this.opCount = n;
    this.kind = new Int8Array(n);
    this.argA = new Int32Array(n);
    this.argB = new Int32Array(n);
    this.suffix = new Array<string>(n);
    this.required = new Uint8Array(n);
    this.readOnly = new Uint8Array(n);
    this.hashWord = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const op = ops[i]!;
      this.kind[i] = op.kind;
      this.argA[i] = op.a;
      this.argB[i] = op.b;
      this.suffix[i] = op.suffix;
      this.required[i] = op.required ? 1 : 0;
      this.readOnly[i] = op.kind === OpKind.Read || op.kind === OpKind.Mismatch ? 1 : 0;
      if (op.required) this.requiredLeft++;
      this.hashWord[i] = mix32(i * 2654435761);
    }
    // Entries: call of op i = 2i, return of op i = 2i+1, head = 2n, tail = 2n+1.
    this.head = 2 * n;
    this.tail = 2 * n + 1;
    this.next = new Int32Array(2 * n + 2).fill(-1);
    this.prev = new Int32Array(2 * n + 2).fill(-1);
    const events: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const op = ops[i]!;
      events.push([op.call, 2 * i]);
      if (op.required) {
        assert(Number.isFinite(op.ret) && op.ret > op.call, `required op ${op.opId} must return after its call`);
        events.push([op.ret, 2 * i + 1]);
      }
    }
    events.sort((x, y) => x[0] - y[0]);
    let last = this.head;
    for (const [, e] of events) {
      this.next[last] = e;
      this.prev[e] = last;
      last = e;
    }
    this.next[last] = this.tail;
    this.prev[this.tail] = last;

    this.words = Math.max(1, Math.ceil(n / 32));
    this.bits = new Uint32Array(this.words);
    this.stackOp = new Int32Array(n);
    this.stackState = new Int32Array(n);
    const entryBytes = this.words * 4 + 8 + MAP_ENTRY_BYTES;
    this.cacheEntriesMax = Math.max(
      1024,
      Math.min(CACHE_ENTRIES_HARD_MAX, Math.floor(limits.cacheBytesMax / entryBytes)),
    );
    const initialCapacity = Math.min(this.cacheEntriesMax, 64);
    this.cacheBits = new Uint32Array(initialCapacity * this.words);
    this.cacheState = new Int32Array(initialCapacity);
    this.cacheNext = new Int32Array(initialCapacity);
    this.entry = this.next[this.head]!;
    this.state = initialState;
  }

  get result(): SearchStatus {
    return this.status;
  }

  /** Approximate bytes held by the cache. */
  get cacheBytes(): number {
    return this.cacheState.length * (this.words * 4 + 8) + this.cacheCount * MAP_ENTRY_BYTES;
  }

  /** Frees the cache (after a verdict). */
  release(): void {
    this.cacheIndex.clear();
    this.cacheCount = 0;
    this.cacheBits = new Uint32Array(0);
    this.cacheState = new Int32Array(0);
    this.cacheNext = new Int32Array(0);
  }

  private appendState(state: number, op: number): number {
    const memoKey = state * (this.opCount + 1) + op;
    let s = this.appendMemo.get(memoKey);
    if (s === undefined) {
      s = this.values.appended(state, this.suffix[op]!);
      this.appendMemo.set(memoKey, s);
    }
    return s;
  }

  /** The state after op, or -1 when op cannot be applied in `state`. */
  private apply(op: number, state: number): number {
    const a = this.argA[op]!;
    switch (this.kind[op]) {
      case OpKind.Read:
        return state === a ? state : -1;
      case OpKind.Write:
        return a;
      case OpKind.Cas:
        return state === a ? this.argB[op]! : -1;
      case OpKind.Mismatch: {
        const b = this.argB[op]!;
        return state !== a && (b < 0 || state === b) ? state : -1;
      }
      case OpKind.Append:
        return this.appendState(state, op);
      default:
        throw new Error(`unknown op kind ${this.kind[op]}`);
    }
  }

  /** Adds (bits, state) to the cache; returns false when it was already there. Grows the arena. */
  private cacheAdd(hash: number, state: number): boolean | 'full' {
    const key = hash * 1048576 + (state & 0xfffff);
    const words = this.words;
    const bits = this.bits;
    const first = this.cacheIndex.get(key);
    let i = first === undefined ? -1 : first;
    while (i >= 0) {
      if (this.cacheState[i] === state) {
        const off = i * words;
        let same = true;
        for (let w = 0; w < words; w++) {
          if (this.cacheBits[off + w] !== bits[w]) {
            same = false;
            break;
          }
        }
        if (same) return false;
      }
      i = this.cacheNext[i]!;
    }
    if (this.cacheCount >= this.cacheEntriesMax) return 'full';
    if (this.cacheCount === this.cacheState.length) {
      const capacity = Math.min(this.cacheEntriesMax, this.cacheState.length * 2);
      const nb = new Uint32Array(capacity * words);
      nb.set(this.cacheBits);
      this.cacheBits = nb;
      const ns = new Int32Array(capacity);
      ns.set(this.cacheState);
      this.cacheState = ns;
      const nn = new Int32Array(capacity);
      nn.set(this.cacheNext);
      this.cacheNext = nn;
    }
    const idx = this.cacheCount++;
    this.cacheBits.set(bits, idx * words);
    this.cacheState[idx] = state;
    this.cacheNext[idx] = first === undefined ? -1 : first;
    this.cacheIndex.set(key, idx);
    return true;
  }

  private lift(op: number): void {
    const next = this.next;
    const prev = this.prev;
    const c = 2 * op;
    next[prev[c]!] = next[c]!;
    prev[next[c]!] = prev[c]!;
    if (this.required[op] === 1) {
      const r = c + 1;
      next[prev[r]!] = next[r]!;
      prev[next[r]!] = prev[r]!;
    }
  }

  private unlift(op: number): void {
    const next = this.next;
    const prev = this.prev;
    const c = 2 * op;
    if (this.required[op] === 1) {
      const r = c + 1;
      next[prev[r]!] = r;
      prev[next[r]!] = r;
    }
    next[prev[c]!] = c;
    prev[next[c]!] = c;
  }

  /** Runs at most `stepsMax` iterations. */
  run(stepsMax: number): SearchStatus {
    if (this.status !== 'running') return this.status;
    const next = this.next;
    const bits = this.bits;
    let entry = this.entry;
    let state = this.state;
    let depth = this.depth;
    let hash = this.hash;
    let requiredLeft = this.requiredLeft;
    let budget = stepsMax;
    let status: SearchStatus = 'running';
    let fresh = this.freshLevel;
    while (true) {
      if (requiredLeft === 0) {
        status = 'linearizable';
        break;
      }
      if (budget-- <= 0) break;
      let backtrack = false;
      if (fresh) {
        // New level: an applicable read-only candidate is the only choice needed here (see above).
        fresh = false;
        for (let e = next[this.head]!; (e & 1) === 0 && e !== this.tail; e = next[e]!) {
          budget--;
          const op = e >> 1;
          if (this.readOnly[op] === 0 || this.apply(op, state) < 0) continue;
          const newHash = (hash ^ this.hashWord[op]!) >>> 0;
          bits[op >>> 5]! |= 1 << (op & 31);
          const added = this.cacheAdd(newHash, state);
          if (added === true) {
            this.stackOp[depth] = op;
            this.stackState[depth] = state;
            depth++;
            if (depth > this.maxDepth) this.maxDepth = depth;
            hash = newHash;
            requiredLeft--;
            this.lift(op);
            entry = next[this.head]!;
            fresh = true;
          } else {
            bits[op >>> 5]! &= ~(1 << (op & 31));
            if (added === 'full') status = 'out-of-memory';
            else backtrack = true; // this configuration plus the read was explored and failed
          }
          break;
        }
        if (status === 'out-of-memory') break;
        if (fresh) continue;
      }
      if (!backtrack && (entry & 1) === 0) {
        assert(entry !== this.head && entry !== this.tail, 'search walked off the entry list with required ops left');
        const op = entry >> 1;
        const newState = this.apply(op, state);
        if (newState >= 0) {
          const newHash = (hash ^ this.hashWord[op]!) >>> 0;
          const w = op >>> 5;
          const mask = 1 << (op & 31);
          bits[w]! |= mask;
          const added = this.cacheAdd(newHash, newState);
          if (added === 'full') {
            bits[w]! &= ~mask;
            status = 'out-of-memory';
            break;
          }
          if (added) {
            this.stackOp[depth] = op;
            this.stackState[depth] = state;
            depth++;
            if (depth > this.maxDepth) this.maxDepth = depth;
            state = newState;
            hash = newHash;
            if (this.required[op] === 1) requiredLeft--;
            this.lift(op);
            entry = next[this.head]!;
            fresh = true;
            continue;
          }
          bits[w]! &= ~mask;
        }
        entry = next[entry]!;
      } else {
        // Backtrack. A read-only op (read, mismatch observation) that was applicable can always be
        // linearized first without loss of generality (it changes no state, and nothing must precede
        // it), so once the search below it failed, its siblings would fail too: keep backtracking.
        let op = -1;
        let rootFailed = depth === 0;
        while (!rootFailed) {
          depth--;
          op = this.stackOp[depth]!;
          state = this.stackState[depth]!;
          bits[op >>> 5]! &= ~(1 << (op & 31));
          hash = (hash ^ this.hashWord[op]!) >>> 0;
          if (this.required[op] === 1) requiredLeft++;
          this.unlift(op);
          if (this.readOnly[op] === 0) break;
          rootFailed = depth === 0;
        }
        if (rootFailed) {
          status = 'illegal';
          break;
        }
        entry = next[2 * op]!;
      }
    }
    this.steps += stepsMax - Math.max(budget, 0);
    this.freshLevel = fresh;
    this.entry = entry;
    this.state = state;
    this.depth = depth;
    this.hash = hash;
    this.requiredLeft = requiredLeft;
    this.status = status;
    return status;
  }
}
