import { createHash } from 'node:crypto';
import type { FinishReason, GenerationInput, TokenUsage } from '../ports.js';

export interface CachedCompletion {
  text: string;
  finishReason: FinishReason;
  usage: TokenUsage;
}

/** Where deterministic answers are kept: Redis when configured, an in-process LRU otherwise. */
export interface ResponseCache {
  get(key: string): Promise<CachedCompletion | null>;
  set(key: string, value: CachedCompletion, ttlSeconds: number): Promise<void>;
}

export type CacheStatus = 'hit' | 'miss' | 'bypass';

export interface CacheKeyParts {
  /** Answers are never shared across organizations. */
  scope: string;
  endpoint: string;
  model: string;
  input: GenerationInput;
  maxTokens: number;
  topP: number;
  stop: string[];
  seed?: number;
  /** A chat request's own fields, as sent (chatCacheKeyPart): all that can change its answer. */
  request?: Record<string, unknown>;
}

/** Only temperature-0 requests are deterministic enough to answer twice the same way. */
export function isCacheable(temperature: number): boolean {
  return temperature === 0;
}

export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        parts.scope,
        parts.endpoint,
        parts.model,
        parts.input,
        parts.maxTokens,
        parts.topP,
        parts.stop,
        parts.seed ?? null,
        parts.request ?? null,
      ]),
    )
    .digest('base64url');
}
