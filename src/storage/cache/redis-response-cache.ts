import type { Redis } from 'ioredis';
import type { CachedCompletion, ResponseCache } from '../../domain/cache/response-cache.js';
import type { Logger } from '../../domain/logger.js';

/**
 * A cache is an optimisation: when Redis is unreachable a lookup is a miss and a store is
 * skipped, so the request is served (from the model) instead of failing.
 */
export class RedisResponseCache implements ResponseCache {
  constructor(
    private readonly client: Redis,
    private readonly logger: Logger,
  ) {}

  async get(key: string): Promise<CachedCompletion | null> {
    try {
      const raw = await this.client.get(`cache:completion:${key}`);
      return raw === null ? null : (JSON.parse(raw) as CachedCompletion);
    } catch (error) {
      this.logger.warn({ err: error }, 'response cache lookup failed; treating as a miss');
      return null;
    }
  }

  async set(key: string, value: CachedCompletion, ttlSeconds: number): Promise<void> {
    try {
      await this.client.set(`cache:completion:${key}`, JSON.stringify(value), 'EX', ttlSeconds);
    } catch (error) {
      this.logger.warn({ err: error }, 'response cache store failed');
    }
  }
}
