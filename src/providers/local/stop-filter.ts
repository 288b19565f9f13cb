/**
 * Applies stop sequences to streamed text. Text is released only once it is certain not to be the
 * start of a stop sequence, so a client never sees part of one even if generation then stops.
 */
export class StopFilter {
  private readonly stops: string[];
  private readonly longest: number;
  private held = '';
  private stopped = false;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((stop) => stop.length > 0);
    this.longest = Math.max(0, ...this.stops.map((stop) => stop.length));
  }

  get hasStopped(): boolean {
    return this.stopped;
  }

  /** Returns the text that is now safe to release; after a stop match, nothing more. */
  push(text: string): string {
    if (this.stopped) return '';
    this.held += text;
    const cut = this.firstMatch();
    if (cut !== -1) {
      this.stopped = true;
      const released = this.held.slice(0, cut);
      this.held = '';
      return released;
    }
    const keepFrom = this.partialMatchStart();
    const released = this.held.slice(0, keepFrom);
    this.held = this.held.slice(keepFrom);
    return released;
  }

  /** At the natural end of generation the held tail is ordinary text after all. */
  flush(): string {
    const released = this.stopped ? '' : this.held;
    this.held = '';
    return released;
  }

  private firstMatch(): number {
    let first = -1;
    for (const stop of this.stops) {
      const index = this.held.indexOf(stop);
      if (index !== -1 && (first === -1 || index < first)) first = index;
    }
    return first;
  }

  /** The earliest position whose suffix could still grow into a stop sequence. */
  private partialMatchStart(): number {
    const held = this.held;
    // A full match was already ruled out, so only suffixes shorter than the longest stop qualify.
    for (let start = Math.max(0, held.length - this.longest + 1); start < held.length; start++) {
      const suffix = held.slice(start);
      if (this.stops.some((stop) => stop.startsWith(suffix))) return start;
    }
    return held.length;
  }
}
