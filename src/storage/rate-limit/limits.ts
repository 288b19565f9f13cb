import type { LimitState, RateLimitDecision } from '../../domain/rate-limit/ports.js';

/** Both a bucket's refill period and a window's length. */
export const MINUTE_MS = 60_000;

/**
 * How long a limit is kept after its last use. A minute would do (a bucket idle that long is full,
 * a window that long is empty); the second one is slack for clock steps, not a semantic change.
 */
export const IDLE_TTL_MS = 120_000;

interface Limit {
  key: string;
  perMinute: number;
}

/**
 * The limits of one call with each key once: a key named twice (a key that is also its own user,
 * say) is charged once, under its first `perMinute`. `indexOf[i]` maps the caller's i-th limit to
 * its entry in `unique`, so answers come back one per limit passed in, in order.
 */
export function uniqueLimits<L extends Limit>(limits: L[]): { unique: L[]; indexOf: number[] } {
  const positions = new Map<string, number>();
  const unique: L[] = [];
  const indexOf = limits.map((limit) => {
    // Below 1 a bucket could never hold a whole request; a limit that blocks everything is not a
    // rate limit, and a zero would turn into divisions by zero.
    if (!Number.isFinite(limit.perMinute) || limit.perMinute < 1) {
      throw new RangeError(
        `rate limit ${limit.key}: perMinute must be ≥ 1, got ${limit.perMinute}`,
      );
    }
    let position = positions.get(limit.key);
    if (position === undefined) {
      position = unique.length;
      positions.set(limit.key, position);
      unique.push(limit);
    }
    return position;
  });
  return { unique, indexOf };
}

/** Token amounts are whole: a fraction is rounded up, so a store never under-counts. */
export function wholeAmount(amount: number, what: string): number {
  if (!Number.isFinite(amount) || amount < 0) {
    throw new RangeError(`${what} must be a finite number ≥ 0, got ${amount}`);
  }
  return Math.ceil(amount);
}

/** What a store computed for each distinct key, before it is spread back over the caller's list. */
export interface UniqueOutcome {
  allowed: boolean;
  /** Index into the distinct keys of the first one that refused, or -1. */
  refusedAt: number;
  retryAfterMs: number;
  states: { remaining: number; resetAtMs: number }[];
}

export function toDecision<L extends Limit>(
  limits: L[],
  unique: L[],
  indexOf: number[],
  outcome: UniqueOutcome,
): RateLimitDecision {
  const states = limits.map((limit, i): LimitState => {
    const position = indexOf[i] ?? -1;
    const state = outcome.states[position];
    const source = unique[position];
    if (state === undefined || source === undefined) throw new Error('rate-limit state missing');
    return {
      key: limit.key,
      limit: source.perMinute,
      remaining: state.remaining,
      resetAtMs: state.resetAtMs,
    };
  });
  return {
    allowed: outcome.allowed,
    states,
    retryAfterMs: outcome.allowed ? 0 : Math.max(1, Math.ceil(outcome.retryAfterMs)),
    refusedBy: outcome.allowed ? null : (unique[outcome.refusedAt]?.key ?? null),
  };
}
