/**
 * The /metrics text rendered at most once per interval: scrapes while a render runs share it, and scrapes
 * within `intervalMs` of the last render get its text. 10,000 scrapes a second then cost about one render
 * a second instead of 10,000 (a render walks every metric and label set; a flood of them stalled the
 * event loop long enough for the node to lose its Raft leadership).
 *
 * Invariants: at most one render runs at a time; a failed render is not cached (the next scrape retries);
 * every returned promise settles.
 */
export interface MetricsSource {
  metrics(): Promise<string>;
}

export class MetricsCache {
  private text: string | null = null;
  private renderedAtMs = -Infinity;
  private running: Promise<string> | null = null;

  constructor(
    private readonly source: MetricsSource,
    private readonly intervalMs: number,
    /** Called once per render (counts tessera_metrics_renders_total). */
    private readonly onRender: () => void = () => undefined,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** The text of a render at most intervalMs old (or of the render running now). */
  get(): Promise<string> {
    if (this.text !== null && this.nowMs() - this.renderedAtMs < this.intervalMs) return Promise.resolve(this.text);
    if (this.running !== null) return this.running;
    this.onRender();
    const run = this.source.metrics().then(
      (text) => {
        this.text = text;
        this.renderedAtMs = this.nowMs();
        this.running = null;
        return text;
      },
      (e: unknown) => {
        this.running = null;
        throw e;
      },
    );
    this.running = run;
    return run;
  }
}
