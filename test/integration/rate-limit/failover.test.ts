import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import {
  closeRedis,
  createRedisClient,
  waitForRedis,
} from '../../../src/storage/redis/redis-client.js';
import {
  FailoverRateLimitStore,
  type RateLimitMode,
} from '../../../src/storage/rate-limit/failover-rate-limit-store.js';
import { MemoryRateLimitStore } from '../../../src/storage/rate-limit/memory-rate-limit-store.js';
import { RedisRateLimitStore } from '../../../src/storage/rate-limit/redis-rate-limit-store.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { recordingLogger } from '../storage/recording-logger.js';

const prefix = uniqueRedisPrefix();
const target = new URL(REDIS_URL);
const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
let client: Redis;

beforeAll(async () => {
  await proxy.start();
  client = createRedisClient({ url: `redis://127.0.0.1:${proxy.port}`, logger: silentLogger });
  await waitForRedis(client, 5000);
});

afterAll(async () => {
  await proxy.cut();
  client.disconnect();
  await cleanupRedisPrefix(prefix);
});

describe('FailoverRateLimitStore over a real Redis that goes away and comes back', () => {
  it('falls back to 1/N of each limit at once, and shares limits again after recovery', async () => {
    const logger = recordingLogger();
    const modes: RateLimitMode[] = [];
    const store = new FailoverRateLimitStore(
      new RedisRateLimitStore(client, { keyPrefix: prefix }),
      new MemoryRateLimitStore(),
      { instanceCount: 2, logger, onModeChange: (mode) => modes.push(mode) },
    );
    const bucket = [{ key: 'rpm:key:1', perMinute: 10 }];
    expect((await store.takeRequest(bucket)).states[0]).toMatchObject({ limit: 10, remaining: 9 });

    await proxy.cut();
    const start = Date.now();
    const during = [];
    for (let i = 0; i < 6; i += 1) during.push(await store.takeRequest(bucket));
    expect(Date.now() - start).toBeLessThan(1000);
    expect(during.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
    expect(during[0]?.states[0]).toMatchObject({ limit: 5, remaining: 4 });
    expect(store.mode()).toBe('fallback');

    await proxy.start();
    await waitForRedis(client, 5000);
    await sleep(1000);
    const after = await store.takeRequest(bucket);
    expect(after.states[0]).toMatchObject({ limit: 10, remaining: 8 });
    expect(store.mode()).toBe('shared');
    expect(modes).toEqual(['fallback', 'shared']);
    expect(logger.entries.map((e) => e.level)).toEqual(['warn', 'info']);
  });
});

describe('FailoverRateLimitStore with nothing listening', () => {
  it('answers from memory without waiting', async () => {
    const dead = createRedisClient({ url: 'redis://127.0.0.1:6399', logger: silentLogger });
    try {
      const logger = recordingLogger();
      const store = new FailoverRateLimitStore(
        new RedisRateLimitStore(dead, { keyPrefix: prefix }),
        new MemoryRateLimitStore(),
        { instanceCount: 3, logger },
      );
      const start = Date.now();
      for (let i = 0; i < 50; i += 1) {
        const decision = await store.reserve([{ key: 'tpm', perMinute: 3000 }], 10, `r${i}`);
        expect(decision.states[0]?.limit).toBe(1000);
      }
      expect(Date.now() - start).toBeLessThan(1000);
      expect(logger.entries.filter((e) => e.level === 'warn')).toHaveLength(1);
    } finally {
      await closeRedis(dead);
    }
  });
});
