import { Redis } from 'ioredis';
import type { Logger } from '../../domain/logger.js';

export interface RedisClientOptions {
  /** redis:// or rediss:// URL; never logged, it may hold a password. */
  url: string;
  /** Prepended by the client to every key, Lua script keys included. */
  keyPrefix?: string;
  logger: Logger;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/**
 * A client that fails fast: with no offline queue, a command while disconnected is rejected at
 * once, and one that gets no answer is rejected after `commandTimeoutMs`, so a Redis outage turns
 * into quick errors rather than requests piling up. The client keeps reconnecting in the
 * background; connection errors are logged once per outage, never thrown from the emitter.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const { logger } = options;
  const client = new Redis(options.url, {
    ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
    connectTimeout: options.connectTimeoutMs ?? 1000,
    commandTimeout: options.commandTimeoutMs ?? 500,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let failing = false;
  client.on('error', (error: unknown) => {
    if (failing) return;
    failing = true;
    logger.error({ err: error }, 'Redis connection failed; retrying in the background');
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    logger.info({}, 'Redis connection restored');
  });
  return client;
}

/** Readiness: resolves when Redis answers, throws otherwise (within the command timeout). */
export async function pingRedis(client: Redis): Promise<void> {
  const reply = await client.ping();
  if (reply !== 'PONG') throw new Error('Unexpected reply to PING');
}

/**
 * Waits until the client is connected; without an offline queue, commands sent before that fail.
 * Rejects after `timeoutMs` (the client keeps trying in the background).
 */
export async function waitForRedis(client: Redis, timeoutMs = 2000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

export async function closeRedis(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    // Not connected: nothing to flush, just stop reconnecting.
    client.disconnect();
  }
}
