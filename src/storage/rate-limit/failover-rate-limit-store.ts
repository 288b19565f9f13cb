import type { Logger } from '../../domain/logger.js';
import {
  RateLimitStoreUnavailable,
  type BucketLimit,
  type RateLimitDecision,
  type RateLimitStore,
  type WindowLimit,
} from '../../domain/rate-limit/ports.js';

/*
 * Failover policy. Limits are normally shared through the primary (Redis). When it throws
 * RateLimitStoreUnavailable the call is answered by the fallback (this instance's memory) with
 * every limit divided by `instanceCount` (rounded up, at least 1): N instances each enforcing 1/N
 * approximate the shared limit without talking to each other. Leaving shared mode logs one warning,
 * returning logs one info line, and both call `onModeChange`.
 *
 * While in fallback, one call per second is sent to the primary as a probe; every other call goes
 * straight to memory, so at most one request at a time waits on a dead Redis (for no longer than
 * the client's command timeout). The first success, probe or late answer, returns to shared mode.
 *
 * Limits are not carried across a switch: each mode starts from what its own store remembers, so a
 * switch can briefly admit up to a limit's worth more than the limit. A `settle` for a reservation
 * made in the other mode finds nothing to settle and does nothing.
 */

export type RateLimitMode = 'shared' | 'fallback';

export interface FailoverRateLimitStoreOptions {
  /** How many instances share the limits; each enforces 1/instanceCount of them in fallback. */
  instanceCount: number;
  logger: Logger;
  onModeChange?: (mode: RateLimitMode) => void;
  /** For tests. */
  now?: () => number;
}

const PROBE_INTERVAL_MS = 1000;

export class FailoverRateLimitStore implements RateLimitStore {
  private current: RateLimitMode = 'shared';
  private lastProbeMs = -Infinity;
  private probing = false;
  private readonly instanceCount: number;
  private readonly logger: Logger;
  private readonly onModeChange: ((mode: RateLimitMode) => void) | undefined;
  private readonly now: () => number;

  constructor(
    private readonly primary: RateLimitStore,
    private readonly fallback: RateLimitStore,
    options: FailoverRateLimitStoreOptions,
  ) {
    if (!Number.isInteger(options.instanceCount) || options.instanceCount < 1) {
      throw new RangeError(`instanceCount must be an integer ≥ 1, got ${options.instanceCount}`);
    }
    this.instanceCount = options.instanceCount;
    this.logger = options.logger;
    this.onModeChange = options.onModeChange;
    this.now = options.now ?? Date.now;
  }

  mode(): RateLimitMode {
    return this.current;
  }

  takeRequest(buckets: BucketLimit[]): Promise<RateLimitDecision> {
    return this.route(
      (store) => store.takeRequest(buckets),
      (store) => store.takeRequest(this.share(buckets)),
    );
  }

  reserve(
    windows: WindowLimit[],
    amount: number,
    reservationId: string,
  ): Promise<RateLimitDecision> {
    return this.route(
      (store) => store.reserve(windows, amount, reservationId),
      (store) => store.reserve(this.share(windows), amount, reservationId),
    );
  }

  settle(windows: WindowLimit[], reservationId: string, actual: number): Promise<void> {
    return this.route(
      (store) => store.settle(windows, reservationId, actual),
      (store) => store.settle(this.share(windows), reservationId, actual),
    );
  }

  private async route<T>(
    shared: (store: RateLimitStore) => Promise<T>,
    alone: (store: RateLimitStore) => Promise<T>,
  ): Promise<T> {
    const probe = this.current === 'fallback';
    if (probe) {
      if (this.probing || this.now() - this.lastProbeMs < PROBE_INTERVAL_MS) {
        return alone(this.fallback);
      }
      this.probing = true;
      this.lastProbeMs = this.now();
    }
    try {
      const result = await shared(this.primary);
      this.switchTo('shared');
      return result;
    } catch (error) {
      if (!(error instanceof RateLimitStoreUnavailable)) throw error;
      this.switchTo('fallback', error);
      return alone(this.fallback);
    } finally {
      if (probe) this.probing = false;
    }
  }

  private switchTo(mode: RateLimitMode, cause?: unknown): void {
    if (this.current === mode) return;
    this.current = mode;
    if (mode === 'fallback') {
      // Counted from the failure, so the first probe comes a full interval after it.
      this.lastProbeMs = this.now();
      this.logger.warn(
        { err: cause, instanceCount: this.instanceCount },
        'Shared rate-limit store unavailable; enforcing 1/instanceCount of each limit from memory',
      );
    } else {
      this.logger.info({}, 'Shared rate-limit store reachable again; limits are shared again');
    }
    try {
      this.onModeChange?.(mode);
    } catch (error) {
      this.logger.error({ err: error }, 'Rate-limit mode change listener failed');
    }
  }

  private share<L extends { perMinute: number }>(limits: L[]): L[] {
    if (this.instanceCount === 1) return limits;
    return limits.map((limit) => ({
      ...limit,
      perMinute: Math.max(1, Math.ceil(limit.perMinute / this.instanceCount)),
    }));
  }
}
