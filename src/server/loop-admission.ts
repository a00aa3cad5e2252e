/**
 * Load shedding on event-loop lag (issue 9 §4: floods of pipelined puts, scans or scrapes stalled the
 * leader's loop long enough for its Raft ticks to come late and its leadership to go). While the loop
 * lags past shedAfterMs (obs/loop-lag.ts: the lag is seen inside a long loop turn, not only after it),
 * NEW client work is refused at arrival with RESOURCE_EXHAUSTED: unary KV calls, each op of a Multi or
 * Pipeline, Scans (from a light connection only past twice shedAfterMs, see shed()). The refusal does no work (no decode past what grpc-js did, no read, no proposal) and
 * allocates no error (one shared TesseraError and one shared wire error). Raft peer traffic, Admin and
 * /healthz are never shed; work already admitted runs to its end.
 *
 * Invariant: shed() only reads the clock; each refusal is counted once (overloadRefused{reason="loop"}).
 */
import { TesseraError } from '../base';
import { toRequestError, type RequestErrorWire } from './errors';

/** Where the lag comes from (obs/loop-lag.ts LoopLag, or a fake in tests). */
export interface LagSource {
  lagMs(): number;
}

export const LOOP_LAG_REFUSAL = new TesseraError(
  'RESOURCE_EXHAUSTED',
  'the node is overloaded (its event loop is lagging); retry later with backoff',
);
/** The same refusal as a Multi/Pipeline op's error (shared: results get their own wrapper object). */
export const LOOP_LAG_REFUSAL_WIRE: RequestErrorWire = toRequestError(LOOP_LAG_REFUSAL);

export class LoopAdmission {
  constructor(
    private readonly lag: LagSource,
    readonly shedAfterMs: number,
    /** Called once per refusal (the metric). */
    private readonly onShed: () => void = () => undefined,
  ) {}

  /**
   * True (and counted) when new work must be refused now. Work from a light connection (memory-budget.ts:
   * one holding few ops, such as a client doing a few requests at a time) is refused only past twice the
   * bound: the floods that make the loop lag come from heavy connections, and shedding a light client's
   * few ops relieves nothing while it costs that client its latency.
   */
  shed(light = false): boolean {
    if (this.lag.lagMs() <= (light ? 2 * this.shedAfterMs : this.shedAfterMs)) return false;
    this.onShed();
    return true;
  }
}
