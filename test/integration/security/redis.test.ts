import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoginThrottle } from '../../../src/domain/identity/ports.js';
import type { Logger } from '../../../src/domain/logger.js';
import { silentLogger } from '../../../src/domain/logger.js';
import type { LoginThrottlePolicy } from '../../../src/domain/identity/login-throttle-policy.js';
import { MemoryLoginThrottle } from '../../../src/security/memory-login-throttle.js';
import {
  closeRedis,
  createRedisClient,
  pingRedis,
  waitForRedis,
} from '../../../src/storage/redis/redis-client.js';
import { RedisLoginThrottle } from '../../../src/storage/redis/redis-login-throttle.js';
import { RedisRevocationList } from '../../../src/storage/redis/redis-revocation-list.js';
import { cleanupRedisPrefix, REDIS_URL, uniqueRedisPrefix } from '../../support/redis.js';

const prefix = uniqueRedisPrefix();
const clients: Redis[] = [];

async function connect(options: { keyPrefix?: string; logger?: Logger } = {}): Promise<Redis> {
  const client = createRedisClient({ url: REDIS_URL, logger: silentLogger, ...options });
  clients.push(client);
  await waitForRedis(client, 5000);
  return client;
}

async function eventually(condition: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > withinMs) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - start;
}

function recordingLogger(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  return { ...silentLogger, errors, error: (obj) => void errors.push(obj) };
}

let raw: Redis;

beforeAll(async () => {
  raw = await connect();
});

afterAll(async () => {
  await cleanupRedisPrefix(prefix);
  await Promise.all(clients.map(closeRedis));
});

describe('RedisRevocationList', () => {
  it('shows a revocation to another instance at once', async () => {
    const instanceA = new RedisRevocationList(await connect(), { keyPrefix: prefix });
    const instanceB = new RedisRevocationList(await connect(), { keyPrefix: prefix });
    const [revoked, alsoRevoked, untouched] = [randomUUID(), randomUUID(), randomUUID()];

    await instanceA.revokeSessions([revoked, alsoRevoked], new Date(Date.now() + 60_000));
    expect(await instanceB.isSessionRevoked(revoked)).toBe(true);
    expect(await instanceB.isSessionRevoked(alsoRevoked)).toBe(true);
    expect(await instanceB.isSessionRevoked(untouched)).toBe(false);
    expect(await raw.exists(`${prefix}revoked:session:${revoked}`)).toBe(1);
  });

  it('forgets a revocation at `until` plus the grace period', async () => {
    const list = new RedisRevocationList(raw, { keyPrefix: prefix, graceMs: 0 });
    const lenient = new RedisRevocationList(raw, { keyPrefix: prefix });
    const [id, lenientId] = [randomUUID(), randomUUID()];
    const until = new Date(Date.now() + 400);

    await list.revokeSessions([id], until);
    await lenient.revokeSessions([lenientId], until);
    expect(await raw.pexpiretime(`${prefix}revoked:session:${id}`)).toBe(until.getTime());
    expect(await raw.pexpiretime(`${prefix}revoked:session:${lenientId}`)).toBe(
      until.getTime() + 60_000,
    );
    expect(await list.isSessionRevoked(id)).toBe(true);
    await eventually(async () => !(await list.isSessionRevoked(id)), 5000);
  });

  it('accepts an empty list and an `until` already past', async () => {
    const list = new RedisRevocationList(raw, { keyPrefix: prefix, graceMs: 0 });
    const id = randomUUID();
    await list.revokeSessions([], new Date(Date.now() + 60_000));
    await list.revokeSessions([id], new Date(Date.now() - 60_000));
    await list.revokeSessions([id], new Date(0));
    expect(await list.isSessionRevoked(id)).toBe(false);
  });
});

const SLOW: LoginThrottlePolicy = {
  windowMs: 900_000,
  delayAfter: 5,
  refuseAfter: 10,
  baseDelayMs: 10_000,
};

let keyCounter = 0;
const freshKey = () => `login:email:${randomUUID()}-${(keyCounter += 1)}`;

async function fail(throttle: LoginThrottle, keys: string[], times: number): Promise<void> {
  for (let i = 0; i < times; i += 1) await throttle.recordFailure(keys);
}

describe.each([
  ['MemoryLoginThrottle', (policy: LoginThrottlePolicy) => new MemoryLoginThrottle({ policy })],
  [
    'RedisLoginThrottle',
    (policy: LoginThrottlePolicy) => new RedisLoginThrottle(raw, { keyPrefix: prefix, policy }),
  ],
] as const)('%s', (_name, makeThrottle) => {
  it('allows the first attempts, then requires growing delays, then refuses', async () => {
    const throttle = makeThrottle(SLOW);
    const keys = [freshKey()];
    for (let i = 0; i < 5; i += 1) {
      expect(await throttle.check(keys)).toEqual({ allowed: true, retryAfterSeconds: 0 });
      await throttle.recordFailure(keys);
    }
    const afterFive = await throttle.check(keys);
    expect(afterFive.allowed).toBe(false);
    expect(afterFive.retryAfterSeconds).toBeGreaterThanOrEqual(9);
    expect(afterFive.retryAfterSeconds).toBeLessThanOrEqual(10);

    await fail(throttle, keys, 1);
    const afterSix = await throttle.check(keys);
    expect(afterSix.allowed).toBe(false);
    expect(afterSix.retryAfterSeconds).toBeGreaterThanOrEqual(19);
    expect(afterSix.retryAfterSeconds).toBeLessThanOrEqual(20);

    await fail(throttle, keys, 3);
    const afterNine = await throttle.check(keys);
    expect(afterNine.retryAfterSeconds).toBeGreaterThanOrEqual(159);
    expect(afterNine.retryAfterSeconds).toBeLessThanOrEqual(160);

    // Refused until the window (15 minutes) after the last attempt ends.
    await fail(throttle, keys, 1);
    const afterTen = await throttle.check(keys);
    expect(afterTen.allowed).toBe(false);
    expect(afterTen.retryAfterSeconds).toBeGreaterThanOrEqual(898);
    expect(afterTen.retryAfterSeconds).toBeLessThanOrEqual(900);
  });

  it('forgets failures when the login succeeds', async () => {
    const throttle = makeThrottle(SLOW);
    const keys = [freshKey(), freshKey()];
    await fail(throttle, keys, 10);
    expect((await throttle.check(keys)).allowed).toBe(false);
    await throttle.reset(keys);
    expect(await throttle.check(keys)).toEqual({ allowed: true, retryAfterSeconds: 0 });
  });

  it('ends a successful attempt with release, keeping the earlier failures', async () => {
    const throttle = makeThrottle(SLOW);
    const keys = [freshKey()];
    await fail(throttle, keys, 4);
    // Each released attempt stops counting: unreleased, the second would already be delayed.
    for (let i = 0; i < 3; i += 1) {
      expect((await throttle.check(keys)).allowed).toBe(true);
      await throttle.release(keys);
    }
    await fail(throttle, keys, 1);
    expect((await throttle.check(keys)).allowed).toBe(false);
  });

  it('keeps keys independent, and refuses a check when any of its keys refuses', async () => {
    const throttle = makeThrottle(SLOW);
    const [email, ip, otherIp] = [freshKey(), freshKey(), freshKey()];
    await fail(throttle, [email, ip], 4);
    await fail(throttle, [email], 1);
    expect((await throttle.check([email])).allowed).toBe(false);
    expect((await throttle.check([email, otherIp])).allowed).toBe(false);
    expect((await throttle.check([ip])).allowed).toBe(true);
    expect((await throttle.check([otherIp])).allowed).toBe(true);
    // The refused check above did not count against otherIp: a 5th failure is still needed.
    await fail(throttle, [otherIp], 3);
    expect((await throttle.check([otherIp])).allowed).toBe(true);
  });

  it('admits a burst of concurrent attempts only up to the delay threshold', async () => {
    const throttle = makeThrottle(SLOW);
    const keys = [freshKey()];
    const decisions = await Promise.all(Array.from({ length: 20 }, () => throttle.check(keys)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    // The admitted attempts then fail: they were already counted, not counted twice.
    await fail(throttle, keys, 5);
    const next = await throttle.check(keys);
    expect(next.retryAfterSeconds).toBeLessThanOrEqual(10);
  });

  it('allows the next attempt once the delay has passed', async () => {
    const throttle = makeThrottle({ ...SLOW, delayAfter: 1, baseDelayMs: 1000 });
    const keys = [freshKey()];
    await fail(throttle, keys, 1);
    expect(await throttle.check(keys)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    const waited = await eventually(async () => (await throttle.check(keys)).allowed, 5000);
    expect(waited).toBeGreaterThanOrEqual(500);
  });

  it('lifts a refusal and forgets the failures when the window ends', async () => {
    const throttle = makeThrottle({ ...SLOW, windowMs: 1500, delayAfter: 3, refuseAfter: 3 });
    const keys = [freshKey()];
    await fail(throttle, keys, 3);
    const refused = await throttle.check(keys);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(2);
    await eventually(async () => (await throttle.check(keys)).allowed, 5000);
    await fail(throttle, keys, 1);
    expect((await throttle.check(keys)).allowed).toBe(true);
  });
});

describe('RedisLoginThrottle across instances', () => {
  it('shares failures between instances', async () => {
    const first = new RedisLoginThrottle(await connect(), { keyPrefix: prefix, policy: SLOW });
    const second = new RedisLoginThrottle(await connect(), { keyPrefix: prefix, policy: SLOW });
    const keys = [freshKey()];
    await fail(first, keys, 5);
    expect((await second.check(keys)).allowed).toBe(false);
    await second.reset(keys);
    expect((await first.check(keys)).allowed).toBe(true);
  });

  it('works under the client-wide keyPrefix, Lua script keys included', async () => {
    const throttle = new RedisLoginThrottle(await connect({ keyPrefix: prefix }), { policy: SLOW });
    const key = freshKey();
    await fail(throttle, [key], 5);
    expect(await raw.hget(`${prefix}throttle:${key}`, 'f')).toBe('5');
    expect((await throttle.check([key])).allowed).toBe(false);
  });
});

describe('Redis client', () => {
  it('answers readiness pings', async () => {
    await expect(pingRedis(raw)).resolves.toBeUndefined();
  });

  it('fails fast, and logs instead of throwing, when Redis is unreachable', async () => {
    const logger = recordingLogger();
    const client = createRedisClient({ url: 'redis://127.0.0.1:6390', logger });
    clients.push(client);
    const revocations = new RedisRevocationList(client, { keyPrefix: prefix });
    const throttle = new RedisLoginThrottle(client, { keyPrefix: prefix });

    const start = Date.now();
    await expect(pingRedis(client)).rejects.toThrow();
    await expect(revocations.isSessionRevoked('s')).rejects.toThrow();
    await expect(revocations.revokeSessions(['s'], new Date(Date.now() + 1000))).rejects.toThrow();
    await expect(throttle.check(['k'])).rejects.toThrow();
    await expect(throttle.recordFailure(['k'])).rejects.toThrow();
    expect(Date.now() - start).toBeLessThan(2000);

    await eventually(async () => logger.errors.length > 0, 5000);
  });

  describe('against a server that accepts connections and never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();

    beforeAll(async () => {
      // Answers only the connection handshake (HELLO 3, CLIENT SETINFO, INFO), then goes silent.
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('data', (chunk) => {
          for (const command of chunk.toString('latin1').matchAll(/\*\d+\r\n\$\d+\r\n(\w+)/g)) {
            const name = command[1]?.toUpperCase();
            if (name === 'HELLO') socket.write('%1\r\n+proto\r\n:3\r\n');
            else if (name === 'CLIENT') socket.write('+OK\r\n');
            else if (name === 'INFO') socket.write('$11\r\nloading:0\r\n\r\n');
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });

    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('rejects commands after the command timeout instead of hanging', async () => {
      const { port } = server.address() as AddressInfo;
      const client = createRedisClient({ url: `redis://127.0.0.1:${port}`, logger: silentLogger });
      clients.push(client);
      await waitForRedis(client, 5000);
      const throttle = new RedisLoginThrottle(client, { keyPrefix: prefix });

      const start = Date.now();
      await expect(pingRedis(client)).rejects.toThrow(/timed out/i);
      await expect(throttle.check(['k'])).rejects.toThrow();
      expect(Date.now() - start).toBeLessThan(4000);
    });
  });
});
