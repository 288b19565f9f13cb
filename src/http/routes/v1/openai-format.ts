import type {
  CompletedGeneration,
  Generation,
} from '../../../domain/services/completion-service.js';
import type { AppError } from '../../../domain/errors.js';
import type { TokenUsage } from '../../../domain/ports.js';
import { errorBody } from '../../errors.js';

export type Endpoint = 'completions' | 'chat.completions';

function usageBody(usage: TokenUsage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

export function completionBody(endpoint: Endpoint, result: CompletedGeneration) {
  const common = { id: result.id, created: result.created, model: result.model };
  if (endpoint === 'completions') {
    return {
      ...common,
      object: 'text_completion',
      choices: [
        { index: 0, text: result.text, finish_reason: result.finishReason, logprobs: null },
      ],
      usage: usageBody(result.usage),
    };
  }
  return {
    ...common,
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: result.text },
        finish_reason: result.finishReason,
        logprobs: null,
      },
    ],
    usage: usageBody(result.usage),
  };
}

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/**
 * OpenAI's SSE framing: one chunk per text piece, a final chunk with finish_reason, an optional
 * usage chunk, then [DONE]. A failure after the first byte ends with an error event and no [DONE],
 * so that a truncated answer is never passed off as complete.
 */
export async function* sseChunks(
  endpoint: Endpoint,
  generation: Generation,
  options: { includeUsage: boolean; requestId: string; toAppError: (error: unknown) => AppError },
): AsyncGenerator<string> {
  const base = {
    id: generation.id,
    object: endpoint === 'completions' ? 'text_completion' : 'chat.completion.chunk',
    created: generation.created,
    model: generation.model,
  };
  const choice = (text: string | null, finishReason: string | null, first: boolean) =>
    endpoint === 'completions'
      ? { index: 0, text: text ?? '', finish_reason: finishReason, logprobs: null }
      : {
          index: 0,
          delta:
            finishReason !== null
              ? {}
              : { ...(first ? { role: 'assistant' } : {}), content: text ?? '' },
          finish_reason: finishReason,
          logprobs: null,
        };
  let first = true;
  try {
    for await (const event of generation.events) {
      if (event.type === 'text') {
        yield sse({ ...base, choices: [choice(event.text, null, first)] });
        first = false;
        continue;
      }
      if (first && endpoint === 'chat.completions') {
        yield sse({ ...base, choices: [choice('', null, true)] });
      }
      yield sse({ ...base, choices: [choice(null, event.finishReason, false)] });
      if (options.includeUsage) yield sse({ ...base, choices: [], usage: usageBody(event.usage) });
      yield 'data: [DONE]\n\n';
      return;
    }
  } catch (error) {
    yield sse(errorBody(options.toAppError(error), options.requestId));
  }
}
