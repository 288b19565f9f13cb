import { AppError } from '../../domain/errors.js';
import type {
  EmbeddingProvider,
  EmbeddingRequest,
  EmbeddingResponse,
} from '../../domain/inference/embeddings.js';
import { estimateEmbeddingTokens } from '../shared/embedding-tokens.js';
import type { UpstreamRuntime } from '../shared/upstream-runtime.js';

/**
 * Embeddings from an upstream that speaks OpenAI's API: the client's body goes as it came (only
 * `model` rewritten by the router) and the answer comes back as it was sent, so fields this code
 * has never heard of reach the client. It is read only as far as metering needs.
 */
export function createOpenAIEmbeddings(
  runtime: UpstreamRuntime,
  headers: Record<string, string>,
): EmbeddingProvider {
  return {
    dimensions: true,
    countTokens: estimateEmbeddingTokens,
    async embed(request: EmbeddingRequest): Promise<EmbeddingResponse> {
      const answer = await runtime.postJson(request, {
        path: '/embeddings',
        headers,
        body: JSON.stringify(request.body),
      });
      if (!Array.isArray(answer.data)) {
        throw new AppError('UPSTREAM_ERROR', {
          message: 'Upstream model provider sent an unreadable response',
        });
      }
      return {
        ...answer,
        object: 'list',
        data: answer.data as EmbeddingResponse['data'],
        model: typeof answer.model === 'string' ? answer.model : request.model,
        usage: usageOf(answer.usage, request),
      };
    },
  };
}

/** Some OpenAI-compatible servers leave usage out; the estimate then stands in for metering. */
function usageOf(usage: unknown, request: EmbeddingRequest): EmbeddingResponse['usage'] {
  if (usage !== null && typeof usage === 'object' && 'prompt_tokens' in usage) {
    const tokens = usage.prompt_tokens;
    if (typeof tokens === 'number' && Number.isInteger(tokens) && tokens >= 0) {
      return { ...usage, prompt_tokens: tokens, total_tokens: tokens };
    }
  }
  const estimate = estimateEmbeddingTokens(request.input);
  return { prompt_tokens: estimate, total_tokens: estimate };
}
