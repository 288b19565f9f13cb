import type { TokenUsage } from '../../../domain/ports.js';
import type { components } from '../../../generated/openapi.js';

export type CompletionUsage = components['schemas']['CompletionUsage'];

/** OpenAI's usage object; the cache and reasoning details only when the upstream reported them. */
export function usageBody(usage: TokenUsage): CompletionUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    ...(usage.cachedTokens === undefined
      ? {}
      : { prompt_tokens_details: { cached_tokens: usage.cachedTokens } }),
    ...(usage.reasoningTokens === undefined
      ? {}
      : { completion_tokens_details: { reasoning_tokens: usage.reasoningTokens } }),
  };
}
