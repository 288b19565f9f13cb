import type {
  FinishReason,
  GenerationEvent,
  GenerationRequest,
  TokenUsage,
} from '../../domain/ports.js';
import { countTextTokens, estimatePromptTokens } from '../shared/token-count.js';
import { redactForLog, UpstreamFailure } from '../shared/upstream-errors.js';
import type { StreamTranslator } from '../shared/upstream-runtime.js';
import { finishReasonOf } from './answer-fields.js';

interface OpenAIChunk {
  choices?: Array<{
    index?: number;
    delta?: { content?: string | null } | null;
    /** Legacy completions put the text here instead of in a delta. */
    text?: string | null;
    finish_reason?: string | null;
  }> | null;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: { message?: unknown; type?: unknown } | null;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Reads an OpenAI-style completion stream into text events: legacy completions, and chat built
 * from the plain fields when no client chat body came (see chat-relay.ts for that). Usage comes from the
 * `stream_options.include_usage` chunk; servers that ignore that option get an o200k estimate.
 */
export function createOpenAITranslator(
  request: GenerationRequest,
  secrets: readonly string[],
): StreamTranslator {
  let finishReason: FinishReason | undefined;
  let promptTokens: number | undefined;
  let completionTokens: number | undefined;
  let text = '';

  function done(): GenerationEvent {
    const usage: TokenUsage = {
      promptTokens: promptTokens ?? estimatePromptTokens(request.input),
      completionTokens: completionTokens ?? countTextTokens(text),
    };
    return { type: 'done', finishReason: finishReason ?? 'stop', usage };
  }

  return {
    push(event) {
      if (event.data.trim() === '[DONE]') return [done()];
      let chunk: OpenAIChunk;
      try {
        chunk = JSON.parse(event.data) as OpenAIChunk;
      } catch {
        throw new UpstreamFailure('malformed', { detail: 'chunk is not JSON' });
      }
      if (chunk === null || typeof chunk !== 'object') {
        throw new UpstreamFailure('malformed', { detail: 'chunk is not an object' });
      }
      if (chunk.error) {
        const message = typeof chunk.error.message === 'string' ? chunk.error.message : '';
        throw new UpstreamFailure('upstream-event', { detail: redactForLog(message, secrets) });
      }
      if (chunk.usage) {
        promptTokens = count(chunk.usage.prompt_tokens) ?? promptTokens;
        completionTokens = count(chunk.usage.completion_tokens) ?? completionTokens;
      }
      // We never ask for n > 1, so only the first choice exists.
      const choice = chunk.choices?.find((candidate) => (candidate.index ?? 0) === 0);
      if (!choice) return [];
      finishReason = finishReasonOf(choice.finish_reason) ?? finishReason;
      const piece = choice.delta?.content ?? choice.text;
      if (typeof piece !== 'string' || piece === '') return [];
      text += piece;
      // An o200k estimate, metered if the stream is cut short; `done` brings the upstream's count.
      return [{ type: 'text', text: piece, tokens: countTextTokens(piece) }];
    },
    end() {
      // Tolerate a server that finished the answer but closed without `[DONE]`.
      if (finishReason !== undefined) return done();
      throw new UpstreamFailure('malformed', { detail: 'stream ended before completion' });
    },
  };
}
