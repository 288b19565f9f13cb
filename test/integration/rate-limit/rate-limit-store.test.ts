import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import {
  RateLimitStoreUnavailable,
  type RateLimitDecision,
  type RateLimitStore,
} from '../../../src/domain/rate-limit/ports.js';
import {
  closeRedis,
  createRedisClient,
  waitForRedis,
} from '../../../src/storage/redis/redis-client.js';
import { MemoryRateLimitStore } from '../../../src/storage/rate-limit/memory-rate-limit-store.js';
import { RedisRateLimitStore } from '../../../src/storage/rate-limit/redis-rate-limit-store.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';

const prefix = uniqueRedisPrefix();
const clients: Redis[] = [];

async function connect(url = REDIS_URL): Promise<Redis> {
  const client = createRedisClient({ url, logger: silentLogger });
  clients.push(client);
  return client;
}

let raw: Redis;

beforeAll(async () => {
  raw = await connect();
  await waitForRedis(raw, 5000);
});

afterAll(async () => {
  await cleanupRedisPrefix(prefix);
  await Promise.all(clients.map(closeRedis));
});

/** One store under test, seen by two instances (two clients for Redis, one object in memory). */
interface Harness {
  instances: [RateLimitStore, RateLimitStore];
  /** Lets `ms` pass for the store; see the Redis harness for how. */
  elapse(ms: number): Promise<void>;
  /** The store's own idea of now, for checking reset times. */
  now(): number;
}

function memoryHarness(): Harness {
  let now = 1_700_000_000_000;
  const store = new MemoryRateLimitStore({ now: () => now });
  return {
    instances: [store, store],
    elapse: async (ms) => void (now += ms),
    now: () => now,
  };
}

async function redisHarness(): Promise<Harness> {
  const [first, second] = [await connect(), await connect()];
  await Promise.all([waitForRedis(first, 5000), waitForRedis(second, 5000)]);
  return {
    instances: [
      new RedisRateLimitStore(first, { keyPrefix: prefix }),
      new RedisRateLimitStore(second, { keyPrefix: prefix }),
    ],
    // The scripts read Redis's clock, which tests cannot move. Short spans are waited out for
    // real; for longer ones every stored time of this run is moved back instead, which is the same
    // thing as far as the scripts can tell and keeps the file fast.
    elapse: async (ms) => {
      if (ms <= 1000) return void (await sleep(ms));
      await backdate(ms);
    },
    now: () => Date.now(),
  };
}

/** Moves every bucket's and window's stored times `ms` into the past (knows the data layout). */
async function backdate(ms: number): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}ratelimit:*`, 'COUNT', 1000);
    for (const key of keys) {
      if (key.startsWith(`${prefix}ratelimit:bucket:`)) {
        await raw.hincrby(key, 'at', -ms);
      } else if (key.startsWith(`${prefix}ratelimit:window:`)) {
        const entries = await raw.zrange(key, '0', '-1', 'WITHSCORES');
        for (let i = 0; i + 1 < entries.length; i += 2) {
          await raw.zadd(key, Number(entries[i + 1]) - ms, entries[i] ?? '');
        }
      }
    }
    cursor = next;
  } while (cursor !== '0');
}

const fresh = (label: string) => `${label}:${randomUUID()}`;
const allowedCount = (decisions: RateLimitDecision[]) => decisions.filter((d) => d.allowed).length;

describe.each([
  ['MemoryRateLimitStore', async () => memoryHarness()],
  ['RedisRateLimitStore', redisHarness],
] as const)('%s', (name, makeHarness) => {
  const onRedis = name === 'RedisRateLimitStore';
  // Redis's clock runs during a test; allow for the time a few round trips take.
  const slack = onRedis ? 1000 : 0;

  let h: Harness;
  let store: RateLimitStore;
  beforeAll(async () => {
    h = await makeHarness();
    store = h.instances[0];
  });

  describe('buckets', () => {
    it('admits exactly the capacity, then refuses until one request has refilled', async () => {
      const key = fresh('rpm');
      const start = h.now();
      for (let left = 4; left >= 0; left -= 1) {
        const decision = await store.takeRequest([{ key, perMinute: 5 }]);
        expect(decision).toMatchObject({ allowed: true, retryAfterMs: 0, refusedBy: null });
        expect(decision.states).toHaveLength(1);
        expect(decision.states[0]).toMatchObject({ key, limit: 5, remaining: left });
      }
      const refused = await store.takeRequest([{ key, perMinute: 5 }]);
      expect(refused).toMatchObject({ allowed: false, refusedBy: key });
      expect(refused.states[0]).toMatchObject({ key, limit: 5, remaining: 0 });
      // One request every 12 s; a full bucket 60 s after it was emptied.
      expect(refused.retryAfterMs).toBeGreaterThanOrEqual(12_000 - slack);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(12_000);
      expect(refused.states[0]?.resetAtMs).toBeGreaterThanOrEqual(start + 60_000 - slack);
      expect(refused.states[0]?.resetAtMs).toBeLessThanOrEqual(h.now() + 60_000);
    });

    it('refills continuously, at perMinute per minute', async () => {
      const key = fresh('rpm');
      // 120 per minute: one every 500 ms, short enough to wait for on Redis.
      const burst = await Promise.all(
        Array.from({ length: 120 }, () => store.takeRequest([{ key, perMinute: 120 }])),
      );
      expect(allowedCount(burst)).toBe(120);
      const refused = await store.takeRequest([{ key, perMinute: 120 }]);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
      await h.elapse(refused.retryAfterMs);
      expect((await store.takeRequest([{ key, perMinute: 120 }])).allowed).toBe(true);
      expect((await store.takeRequest([{ key, perMinute: 120 }])).allowed).toBe(false);

      await h.elapse(30_000);
      const half = await store.takeRequest([{ key, perMinute: 120 }]);
      expect(half.states[0]?.remaining).toBeGreaterThanOrEqual(59);
      expect(half.states[0]?.remaining).toBeLessThanOrEqual(60);
      await h.elapse(120_000);
      const full = await store.takeRequest([{ key, perMinute: 120 }]);
      expect(full.states[0]?.remaining).toBe(119);
    });

    it('charges every bucket or none: a refusal by one leaves the others untouched', async () => {
      const [small, large] = [fresh('rpm:key'), fresh('rpm:org')];
      const both = [
        { key: large, perMinute: 10 },
        { key: small, perMinute: 2 },
      ];
      expect((await store.takeRequest(both)).allowed).toBe(true);
      expect((await store.takeRequest(both)).allowed).toBe(true);
      const refused = await store.takeRequest(both);
      expect(refused).toMatchObject({ allowed: false, refusedBy: small });
      expect(refused.states.map((s) => [s.key, s.remaining])).toEqual([
        [large, 8],
        [small, 0],
      ]);
      const alone = await store.takeRequest([{ key: large, perMinute: 10 }]);
      expect(alone.states[0]?.remaining).toBe(7);
    });

    it('answers one state per limit passed, and charges a key named twice once', async () => {
      const key = fresh('rpm');
      const decision = await store.takeRequest([
        { key, perMinute: 3 },
        { key, perMinute: 3 },
      ]);
      expect(decision.states.map((s) => s.remaining)).toEqual([2, 2]);
      expect(await store.takeRequest([])).toEqual({
        allowed: true,
        states: [],
        retryAfterMs: 0,
        refusedBy: null,
      });
    });

    it('admits exactly the capacity among 100 concurrent requests from two instances', async () => {
      const key = fresh('rpm');
      const decisions = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          h.instances[i % 2]?.takeRequest([{ key, perMinute: 30 }]),
        ),
      );
      expect(allowedCount(decisions.filter((d) => d !== undefined))).toBe(30);
    });
  });

  describe('windows', () => {
    it('reserves up to the limit, then says when the oldest reservations free enough', async () => {
      const key = fresh('tpm');
      const window = [{ key, perMinute: 1000 }];
      const first = await store.reserve(window, 400, 'r1');
      expect(first).toMatchObject({ allowed: true, retryAfterMs: 0, refusedBy: null });
      expect(first.states[0]).toMatchObject({ key, limit: 1000, remaining: 600 });
      const firstLeavesAt = first.states[0]?.resetAtMs ?? 0;
      expect(firstLeavesAt).toBeGreaterThanOrEqual(h.now() + 60_000 - slack);
      expect(firstLeavesAt).toBeLessThanOrEqual(h.now() + 60_000);

      await h.elapse(10_000);
      const second = await store.reserve(window, 600, 'r2');
      expect(second.states[0]?.remaining).toBe(0);
      // Still r1's departure, now 50 s away.
      const untilReset = (second.states[0]?.resetAtMs ?? 0) - h.now();
      expect(untilReset).toBeGreaterThanOrEqual(50_000 - slack);
      expect(untilReset).toBeLessThanOrEqual(50_000);

      // 300 more fit once r1 (400) leaves; 500 more need r2 (600) gone as well.
      const needsFirstGone = await store.reserve(window, 300, 'r3');
      expect(needsFirstGone).toMatchObject({ allowed: false, refusedBy: key });
      expect(needsFirstGone.states[0]?.remaining).toBe(0);
      expect(needsFirstGone.retryAfterMs).toBeGreaterThanOrEqual(50_000 - slack);
      expect(needsFirstGone.retryAfterMs).toBeLessThanOrEqual(50_000);
      const needsBothGone = await store.reserve(window, 500, 'r3');
      expect(needsBothGone.retryAfterMs).toBeGreaterThanOrEqual(60_000 - slack);
      expect(needsBothGone.retryAfterMs).toBeLessThanOrEqual(60_000);

      await h.elapse(needsFirstGone.retryAfterMs);
      const third = await store.reserve(window, 300, 'r3');
      expect(third).toMatchObject({ allowed: true });
      expect(third.states[0]?.remaining).toBe(100);

      await h.elapse(60_000);
      const empty = await store.reserve(window, 0, 'r4');
      expect(empty.states[0]?.remaining).toBe(1000);
    });

    it('finds when enough leaves even past the first hundred reservations', async () => {
      const key = fresh('tpm');
      const window = [{ key, perMinute: 1000 }];
      for (let i = 0; i < 150; i += 1) await store.reserve(window, 1, `small${i}`);
      await h.elapse(10_000);
      expect((await store.reserve(window, 850, 'large')).states[0]?.remaining).toBe(0);
      for (const [amount, wait] of [
        [100, 50_000],
        [150, 50_000],
        [151, 60_000],
      ] as const) {
        const refused = await store.reserve(window, amount, 'next');
        expect(refused.retryAfterMs, `${amount}`).toBeGreaterThanOrEqual(wait - slack);
        expect(refused.retryAfterMs, `${amount}`).toBeLessThanOrEqual(wait);
      }
    });

    it('answers a late but safe wait when finding the exact one means walking 1000+', async () => {
      const key = fresh('tpm');
      const window = [{ key, perMinute: 2000 }];
      for (let i = 0; i < 1100; i += 1) await store.reserve(window, 1, `small${i}`);
      await h.elapse(10_000);
      expect((await store.reserve(window, 900, 'large')).states[0]?.remaining).toBe(0);
      const within = await store.reserve(window, 1000, 'next');
      expect(within.retryAfterMs).toBeGreaterThanOrEqual(50_000 - slack);
      expect(within.retryAfterMs).toBeLessThanOrEqual(50_000);
      // Exactly: 50 s. Bounded: when the newest reservation leaves, 60 s.
      const beyond = await store.reserve(window, 1050, 'next');
      expect(beyond.retryAfterMs).toBeGreaterThanOrEqual(60_000 - slack);
      expect(beyond.retryAfterMs).toBeLessThanOrEqual(60_000);

      await h.elapse(60_000);
      const emptied = await store.reserve(window, 2000, 'all');
      expect(emptied).toMatchObject({ allowed: true });
      expect(emptied.states[0]?.remaining).toBe(0);
    });

    it('reserves in every window or in none', async () => {
      const [key, org] = [fresh('tpm:key'), fresh('tpm:org')];
      const windows = [
        { key: org, perMinute: 10_000 },
        { key, perMinute: 1000 },
      ];
      expect((await store.reserve(windows, 900, 'a')).allowed).toBe(true);
      const refused = await store.reserve(windows, 200, 'b');
      expect(refused).toMatchObject({ allowed: false, refusedBy: key });
      expect(refused.states.map((s) => s.remaining)).toEqual([9100, 0]);
      const orgOnly = await store.reserve([{ key: org, perMinute: 10_000 }], 100, 'c');
      expect(orgOnly.states[0]?.remaining).toBe(9000);
    });

    it('refuses outright a reservation larger than a limit, without charging the others', async () => {
      const [key, org] = [fresh('tpm:key'), fresh('tpm:org')];
      const windows = [
        { key: org, perMinute: 10_000 },
        { key, perMinute: 100 },
      ];
      const refused = await store.reserve(windows, 101, 'big');
      expect(refused).toMatchObject({ allowed: false, refusedBy: key, retryAfterMs: 60_000 });
      expect(refused.states.map((s) => s.remaining)).toEqual([10_000, 0]);
      expect((await store.reserve(windows, 100, 'fits')).allowed).toBe(true);
    });

    it('settles: lowering frees capacity, raising consumes it, and repeating changes nothing', async () => {
      const [key, org] = [fresh('tpm:key'), fresh('tpm:org')];
      const windows = [
        { key, perMinute: 1000 },
        { key: org, perMinute: 5000 },
      ];
      expect((await store.reserve(windows, 800, 'one')).allowed).toBe(true);
      expect((await store.reserve(windows, 300, 'two')).allowed).toBe(false);

      await store.settle(windows, 'one', 100);
      const two = await store.reserve(windows, 300, 'two');
      expect(two.states.map((s) => s.remaining)).toEqual([600, 4600]);

      await store.settle(windows, 'two', 900);
      await store.settle(windows, 'two', 900);
      const full = await store.reserve(windows, 1, 'three');
      expect(full).toMatchObject({ allowed: false, refusedBy: key });
      expect(full.states.map((s) => s.remaining)).toEqual([0, 4000]);

      await store.settle(windows, 'two', 800);
      await store.settle(windows, 'unknown', 50);
      const last = await store.reserve(windows, 100, 'three');
      expect(last.states.map((s) => s.remaining)).toEqual([0, 4000]);
    });

    it('does not resurrect a reservation that already left the window', async () => {
      const key = fresh('tpm');
      const window = [{ key, perMinute: 1000 }];
      await store.reserve(window, 500, 'old');
      await h.elapse(60_000);
      await store.settle(window, 'old', 900);
      const decision = await store.reserve(window, 1000, 'new');
      expect(decision).toMatchObject({ allowed: true });
      expect(decision.states[0]?.remaining).toBe(0);
    });

    it('replaces the amount of a reservation id reserved again instead of adding to it', async () => {
      const key = fresh('tpm');
      const window = [{ key, perMinute: 1000 }];
      await store.reserve(window, 300, 'same');
      const again = await store.reserve(window, 900, 'same');
      expect(again).toMatchObject({ allowed: true });
      expect(again.states[0]?.remaining).toBe(100);
    });

    it('admits exactly 10 of 50 concurrent 1000-token reservations on 10 000 per minute', async () => {
      const key = fresh('tpm');
      const decisions = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          h.instances[i % 2]?.reserve([{ key, perMinute: 10_000 }], 1000, `r${i}`),
        ),
      );
      expect(allowedCount(decisions.filter((d) => d !== undefined))).toBe(10);
    });

    it('rejects amounts and limits that are not numbers it can count', async () => {
      const window = [{ key: fresh('tpm'), perMinute: 1000 }];
      await expect(store.reserve(window, Number.NaN, 'x')).rejects.toThrow(RangeError);
      await expect(store.reserve(window, -1, 'x')).rejects.toThrow(RangeError);
      await expect(store.settle(window, 'x', Infinity)).rejects.toThrow(RangeError);
      await expect(store.takeRequest([{ key: fresh('rpm'), perMinute: 0 }])).rejects.toThrow(
        RangeError,
      );
    });
  });
});

describe('RedisRateLimitStore keys', () => {
  it('gives every key it writes a TTL of about two minutes', async () => {
    const store = new RedisRateLimitStore(raw, { keyPrefix: prefix });
    const [rpm, tpm] = [fresh('rpm'), fresh('tpm')];
    await store.takeRequest([{ key: rpm, perMinute: 10 }]);
    await store.reserve([{ key: tpm, perMinute: 1000 }], 10, 'r');
    await store.settle([{ key: tpm, perMinute: 1000 }], 'r', 5);
    const keys = [
      `${prefix}ratelimit:bucket:${rpm}`,
      `${prefix}ratelimit:window:${tpm}`,
      `${prefix}ratelimit:amounts:${tpm}`,
    ];
    for (const key of keys) {
      const ttl = await raw.pttl(key);
      expect(ttl, key).toBeGreaterThan(110_000);
      expect(ttl, key).toBeLessThanOrEqual(120_000);
    }
    expect(await raw.hget(`${prefix}ratelimit:amounts:${tpm}`, 'total')).toBe('5');
  });

  it('works under a client-wide keyPrefix, script keys included', async () => {
    const client = createRedisClient({ url: REDIS_URL, keyPrefix: prefix, logger: silentLogger });
    clients.push(client);
    await waitForRedis(client, 5000);
    const key = fresh('rpm');
    await new RedisRateLimitStore(client).takeRequest([{ key, perMinute: 10 }]);
    expect(await raw.exists(`${prefix}ratelimit:bucket:${key}`)).toBe(1);
  });

  it('reloads its scripts after SCRIPT FLUSH', async () => {
    const store = new RedisRateLimitStore(raw, { keyPrefix: prefix });
    await store.takeRequest([{ key: fresh('rpm'), perMinute: 10 }]);
    await raw.script('FLUSH');
    expect((await store.takeRequest([{ key: fresh('rpm'), perMinute: 10 }])).allowed).toBe(true);
  });

  it('throws RateLimitStoreUnavailable, fast, when Redis cannot be reached', async () => {
    const store = new RedisRateLimitStore(await connect('redis://127.0.0.1:6399'), {
      keyPrefix: prefix,
    });
    const start = Date.now();
    const windows = [{ key: 'k', perMinute: 10 }];
    await expect(store.takeRequest(windows)).rejects.toBeInstanceOf(RateLimitStoreUnavailable);
    await expect(store.reserve(windows, 1, 'r')).rejects.toBeInstanceOf(RateLimitStoreUnavailable);
    await expect(store.settle(windows, 'r', 1)).rejects.toBeInstanceOf(RateLimitStoreUnavailable);
    expect(Date.now() - start).toBeLessThan(2000);
  });
});
