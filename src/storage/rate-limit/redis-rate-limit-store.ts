import type { Redis } from 'ioredis';
import {
  RateLimitStoreUnavailable,
  type BucketLimit,
  type RateLimitDecision,
  type RateLimitStore,
  type WindowLimit,
} from '../../domain/rate-limit/ports.js';
import {
  IDLE_TTL_MS,
  toDecision,
  uniqueLimits,
  wholeAmount,
  type UniqueOutcome,
} from './limits.js';
import type { LuaScript } from '../redis/lua-script.js';
import { RESERVE, SETTLE, TAKE_REQUEST } from './redis-rate-limit-scripts.js';

export interface RedisRateLimitStoreOptions {
  /** Prepended to every key, before the client's own keyPrefix if it has one. */
  keyPrefix?: string;
}

/**
 * Rate limits shared by every instance using the same Redis. Each call is one Lua script (see
 * redis-rate-limit-scripts.ts for the data layout), so it is atomic and costs one round trip, and
 * it reads the time from Redis so that instances with skewed clocks still agree.
 *
 * The client must fail fast (no offline queue, a command timeout: see createRedisClient) — this
 * store adds no timeout of its own. Whatever the client throws, a refused connection, a timeout, or
 * a server-side refusal such as OOM or READONLY, comes out as RateLimitStoreUnavailable.
 * All keys of one call go to one script: on Redis Cluster they would need a common hash tag.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly prefix: string;

  constructor(
    private readonly client: Redis,
    options: RedisRateLimitStoreOptions = {},
  ) {
    this.prefix = `${options.keyPrefix ?? ''}ratelimit:`;
  }

  async takeRequest(buckets: BucketLimit[]): Promise<RateLimitDecision> {
    const { unique, indexOf } = uniqueLimits(buckets);
    const reply = await this.run(
      TAKE_REQUEST,
      unique.map(({ key }) => this.bucketKey(key)),
      [IDLE_TTL_MS, ...unique.map(({ perMinute }) => perMinute)],
    );
    return toDecision(buckets, unique, indexOf, outcome(reply, unique.length));
  }

  async reserve(
    windows: WindowLimit[],
    amount: number,
    reservationId: string,
  ): Promise<RateLimitDecision> {
    const wanted = wholeAmount(amount, 'reservation amount');
    const { unique, indexOf } = uniqueLimits(windows);
    const reply = await this.run(RESERVE, this.windowKeys(unique), [
      IDLE_TTL_MS,
      wanted,
      reservationId,
      ...unique.map(({ perMinute }) => perMinute),
    ]);
    return toDecision(windows, unique, indexOf, outcome(reply, unique.length));
  }

  async settle(windows: WindowLimit[], reservationId: string, actual: number): Promise<void> {
    const used = wholeAmount(actual, 'settled amount');
    const { unique } = uniqueLimits(windows);
    await this.run(SETTLE, this.windowKeys(unique), [IDLE_TTL_MS, reservationId, used]);
  }

  private async run(script: LuaScript, keys: string[], args: (string | number)[]) {
    // Nothing to limit: not worth a round trip, and an empty answer reads as "allowed".
    if (keys.length === 0) return [0, 0, 0];
    try {
      return await script.run(this.client, keys, args);
    } catch (error) {
      throw new RateLimitStoreUnavailable(error);
    }
  }

  private bucketKey(key: string): string {
    return `${this.prefix}bucket:${key}`;
  }

  private windowKeys(windows: WindowLimit[]): string[] {
    return windows.flatMap(({ key }) => [
      `${this.prefix}window:${key}`,
      `${this.prefix}amounts:${key}`,
    ]);
  }
}

/** Reads a script's reply: refusedAt (1-based, 0 if admitted), retryAfterMs, now, then pairs. */
function outcome(reply: unknown, count: number): UniqueOutcome {
  if (!Array.isArray(reply) || reply.length !== 3 + 2 * count) {
    throw new Error('unexpected reply from the rate-limit script');
  }
  const numbers = reply.map(Number);
  const at = (i: number): number => numbers[i] ?? 0;
  const refusedAt = at(0) - 1;
  return {
    allowed: refusedAt < 0,
    refusedAt,
    retryAfterMs: at(1),
    states: Array.from({ length: count }, (_, i) => ({
      remaining: at(3 + 2 * i),
      resetAtMs: at(4 + 2 * i),
    })),
  };
}
