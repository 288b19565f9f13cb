/** The value recorded for everything past the cap. */
export const OVERFLOW_LABEL = 'other';

/**
 * Keeps a label's cardinality bounded: the first `max` distinct values are kept as they are, every
 * later one is recorded as `other`. Each value is a time series in Prometheus for as long as the
 * process lives, so an unbounded label (one per organization, forever) would grow the scrape and
 * the TSDB without limit. First-seen wins because it is stable: a value never changes series once
 * it has one, so rates over a kept value stay correct.
 */
export class LabelLimit {
  private readonly seen = new Set<string>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError('max must be an integer ≥ 0');
  }

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    this.seen.add(raw);
    return raw;
  }
}
