import type {
  BucketLimit,
  RateLimitDecision,
  RateLimitStore,
  WindowLimit,
} from '../../domain/rate-limit/ports.js';
import {
  IDLE_TTL_MS,
  MINUTE_MS,
  toDecision,
  uniqueLimits,
  wholeAmount,
  type UniqueOutcome,
} from './limits.js';

interface Bucket {
  /** Fractional: refill is continuous. */
  tokens: number;
  /** When `tokens` was computed; also the last use, since only an admitted call writes. */
  atMs: number;
}

interface Reservation {
  atMs: number;
  amount: number;
}

interface Window {
  /** In insertion order, which is time order since the clock is kept monotonic. */
  reservations: Map<string, Reservation>;
  total: number;
  lastUsedMs: number;
}

export interface MemoryRateLimitStoreOptions {
  now?: () => number;
}

/**
 * The rate limits of a single instance, with the same semantics as RedisRateLimitStore: the
 * embedded default, and the fallback while Redis is down. Every call runs synchronously, so it is
 * atomic without locks. Keys idle for IDLE_TTL_MS are dropped by a sweep that runs at most once a
 * minute, on a call, so memory stays bounded by the keys used in the last couple of minutes.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, Bucket>();
  private readonly windows = new Map<string, Window>();
  private readonly clock: () => number;
  private lastNowMs = -Infinity;
  private lastSweepMs: number;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    this.clock = options.now ?? Date.now;
    this.lastSweepMs = this.clock();
  }

  async takeRequest(buckets: BucketLimit[]): Promise<RateLimitDecision> {
    return this.takeRequestNow(buckets);
  }

  async reserve(
    windows: WindowLimit[],
    amount: number,
    reservationId: string,
  ): Promise<RateLimitDecision> {
    return this.reserveNow(windows, amount, reservationId);
  }

  async settle(windows: WindowLimit[], reservationId: string, actual: number): Promise<void> {
    this.settleNow(windows, reservationId, actual);
  }

  /** There is no timer to stop (the sweep rides on calls); this only lets go of the state. */
  close(): void {
    this.buckets.clear();
    this.windows.clear();
  }

  private takeRequestNow(buckets: BucketLimit[]): RateLimitDecision {
    const { unique, indexOf } = uniqueLimits(buckets);
    const now = this.now();
    const levels = unique.map(({ key, perMinute }) => {
      const bucket = this.buckets.get(key);
      if (bucket === undefined) return perMinute;
      const refill = (Math.max(0, now - bucket.atMs) * perMinute) / MINUTE_MS;
      return Math.min(perMinute, bucket.tokens + refill);
    });
    const outcome: UniqueOutcome = { allowed: true, refusedAt: -1, retryAfterMs: 0, states: [] };
    unique.forEach(({ perMinute }, i) => {
      const level = levels[i] ?? 0;
      if (level >= 1) return;
      if (outcome.allowed) outcome.refusedAt = i;
      outcome.allowed = false;
      outcome.retryAfterMs = Math.max(outcome.retryAfterMs, ((1 - level) * MINUTE_MS) / perMinute);
    });
    unique.forEach(({ key, perMinute }, i) => {
      let level = levels[i] ?? 0;
      if (outcome.allowed) {
        level -= 1;
        this.buckets.set(key, { tokens: level, atMs: now });
      }
      outcome.states.push({
        remaining: Math.floor(level),
        resetAtMs: now + Math.ceil(((perMinute - level) * MINUTE_MS) / perMinute),
      });
    });
    return toDecision(buckets, unique, indexOf, outcome);
  }

  private reserveNow(windows: WindowLimit[], amount: number, id: string): RateLimitDecision {
    const wanted = wholeAmount(amount, 'reservation amount');
    const { unique, indexOf } = uniqueLimits(windows);
    const now = this.now();
    const current = unique.map(({ key }) => this.liveWindow(key, now));
    // A reservation id seen again replaces its earlier amount rather than adding to it.
    const others = current.map((w) => (w ? w.total - (w.reservations.get(id)?.amount ?? 0) : 0));
    const refusing = unique.map(({ perMinute }, i) => (others[i] ?? 0) + wanted > perMinute);
    const outcome: UniqueOutcome = { allowed: true, refusedAt: -1, retryAfterMs: 0, states: [] };
    unique.forEach(({ perMinute }, i) => {
      if (!refusing[i]) return;
      if (outcome.allowed) outcome.refusedAt = i;
      outcome.allowed = false;
      const wait =
        wanted > perMinute
          ? MINUTE_MS // It can never fit; a minute is as good an answer as any.
          : waitToFit(current[i], id, (others[i] ?? 0) + wanted - perMinute, now);
      outcome.retryAfterMs = Math.max(outcome.retryAfterMs, wait);
    });
    unique.forEach(({ key, perMinute }, i) => {
      let window = current[i];
      let used = window?.total ?? 0;
      if (outcome.allowed) {
        window ??= { reservations: new Map(), total: 0, lastUsedMs: now };
        this.windows.set(key, window);
        window.reservations.delete(id);
        window.reservations.set(id, { atMs: now, amount: wanted });
        window.total = used = (others[i] ?? 0) + wanted;
        window.lastUsedMs = now;
      }
      outcome.states.push({
        remaining: refusing[i] ? 0 : Math.max(0, Math.floor(perMinute - used)),
        resetAtMs: oldestLeavesAt(window, now),
      });
    });
    return toDecision(windows, unique, indexOf, outcome);
  }

  private settleNow(windows: WindowLimit[], id: string, actual: number): void {
    const used = wholeAmount(actual, 'settled amount');
    const { unique } = uniqueLimits(windows);
    const now = this.now();
    for (const { key } of unique) {
      const window = this.liveWindow(key, now);
      const reservation = window?.reservations.get(id);
      // Expired with its window: the tokens it stood for no longer count anyway.
      if (window === undefined || reservation === undefined) continue;
      window.total += used - reservation.amount;
      reservation.amount = used;
      window.lastUsedMs = now;
    }
  }

  /** The window with reservations older than a minute dropped, or undefined if none are left. */
  private liveWindow(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window === undefined) return undefined;
    for (const [id, reservation] of window.reservations) {
      if (reservation.atMs > now - MINUTE_MS) break;
      window.reservations.delete(id);
      window.total -= reservation.amount;
    }
    if (window.reservations.size > 0) return window;
    this.windows.delete(key);
    return undefined;
  }

  /** Never goes back, so reservations stay in time order when the system clock is stepped. */
  private now(): number {
    const now = Math.max(this.clock(), this.lastNowMs);
    this.lastNowMs = now;
    if (now - this.lastSweepMs >= MINUTE_MS) this.sweep(now);
    return now;
  }

  private sweep(now: number): void {
    this.lastSweepMs = now;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.atMs > IDLE_TTL_MS) this.buckets.delete(key);
    }
    for (const [key, window] of this.windows) {
      if (now - window.lastUsedMs > IDLE_TTL_MS) this.windows.delete(key);
    }
  }
}

/** How far a refusal looks for its wait before settling for an upper bound, as on Redis. */
const WALK_LIMIT = 1000;

/** Ms until enough of the oldest reservations (other than `id`) leave to free `excess` tokens. */
function waitToFit(window: Window | undefined, id: string, excess: number, now: number): number {
  let freed = 0;
  let walked = 0;
  let newest: Reservation | undefined;
  for (const [other, reservation] of window?.reservations ?? []) {
    newest = reservation;
    if (walked++ >= WALK_LIMIT) continue;
    if (other === id) continue;
    freed += reservation.amount;
    if (freed >= excess) return reservation.atMs + MINUTE_MS - now;
  }
  // Past the limit: when the newest one leaves, which is late but never early.
  return newest === undefined ? MINUTE_MS : newest.atMs + MINUTE_MS - now;
}

function oldestLeavesAt(window: Window | undefined, now: number): number {
  const oldest = window?.reservations.values().next().value;
  return oldest === undefined ? now : oldest.atMs + MINUTE_MS;
}
