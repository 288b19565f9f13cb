import { LRUCache } from 'lru-cache';
import type { CachedCompletion, ResponseCache } from '../../domain/cache/response-cache.js';

/** Bounded by total text size, so a few huge answers cannot crowd memory. */
export class MemoryResponseCache implements ResponseCache {
  private readonly lru: LRUCache<string, CachedCompletion>;

  constructor(options: { maxBytes?: number } = {}) {
    this.lru = new LRUCache<string, CachedCompletion>({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (value, key) => key.length + value.text.length * 2 + 64,
    });
  }

  async get(key: string): Promise<CachedCompletion | null> {
    return this.lru.get(key) ?? null;
  }

  async set(key: string, value: CachedCompletion, ttlSeconds: number): Promise<void> {
    this.lru.set(key, value, { ttl: ttlSeconds * 1000 });
  }
}
