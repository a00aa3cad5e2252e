/**
 * The event trace of one seed: a ring buffer of the last `capacity` events (or every event when
 * keepAll is set, for --trace replays). Events are short strings prefixed with the virtual tick.
 * Invariant: formatting is lazy-free but cheap; no event is longer than one line.
 */
export class Trace {
  private readonly events: string[] = [];
  private next = 0;
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly keepAll: boolean,
    private readonly echo: ((line: string) => void) | null = null,
  ) {}

  add(tick: number, text: string): void {
    const line = `t=${tick} ${text}`;
    this.total++;
    if (this.echo) this.echo(line);
    if (this.keepAll || this.events.length < this.capacity) {
      this.events.push(line);
      return;
    }
    this.events[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The retained events, oldest first. */
  lines(): string[] {
    if (this.keepAll || this.events.length < this.capacity) return [...this.events];
    return [...this.events.slice(this.next), ...this.events.slice(0, this.next)];
  }

  get count(): number {
    return this.total;
  }
}
