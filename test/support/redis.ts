import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The server the integration tests use; TEST_REDIS_URL points them elsewhere. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own per test run, so runs never see (or delete) each other's keys. */
export function uniqueRedisPrefix(): string {
  return `test:${process.pid}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key starting with `prefix`. */
export async function cleanupRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
