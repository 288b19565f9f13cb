/**
 * Rate-limit storage. Every call is one atomic step across all the limits it names (a key, its
 * user, its organization…): either every limit admits the request or none is charged, so
 * concurrent requests and several replicas sharing the store cannot overshoot.
 */

/** A token bucket: `capacity` requests at once, refilled continuously at capacity per minute. */
export interface BucketLimit {
  key: string;
  /** Requests per minute; also the burst capacity. */
  perMinute: number;
}

/** A sliding one-minute window over amounts (LLM tokens). */
export interface WindowLimit {
  key: string;
  /** Tokens per minute. */
  perMinute: number;
}

export interface LimitState {
  key: string;
  limit: number;
  /** Whole units left after this call (0 when refused). */
  remaining: number;
  /** Unix ms when the limit is fully available again. */
  resetAtMs: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** One entry per limit passed in, in the same order. */
  states: LimitState[];
  /** When refused: ms until the call could succeed (≥ 1). 0 when allowed. */
  retryAfterMs: number;
  /** When refused: the key of the (first) limit that refused. */
  refusedBy: string | null;
}

export interface RateLimitStore {
  /** Takes one request from every bucket, or from none. */
  takeRequest(buckets: BucketLimit[]): Promise<RateLimitDecision>;
  /**
   * Reserves `amount` tokens in every window, or in none. `reservationId` identifies the
   * reservation for `settle`; an amount larger than a window's limit is refused outright.
   */
  reserve(
    windows: WindowLimit[],
    amount: number,
    reservationId: string,
  ): Promise<RateLimitDecision>;
  /** Replaces a reservation's amount by what was really used (smaller or larger). */
  settle(windows: WindowLimit[], reservationId: string, actual: number): Promise<void>;
}

/** Raised by a store that cannot answer (e.g. Redis down); the caller falls back. */
export class RateLimitStoreUnavailable extends Error {
  constructor(cause: unknown) {
    super('rate-limit store unavailable', { cause });
    this.name = 'RateLimitStoreUnavailable';
  }
}
