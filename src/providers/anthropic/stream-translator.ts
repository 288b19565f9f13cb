import type {
  FinishReason,
  GenerationEvent,
  GenerationRequest,
  TokenUsage,
} from '../../domain/ports.js';
import { countTextTokens, estimatePromptTokens } from '../shared/token-count.js';
import { redactForLog, UpstreamFailure } from '../shared/upstream-errors.js';
import type { StreamTranslator } from '../shared/upstream-runtime.js';

interface AnthropicStreamEvent {
  type?: unknown;
  message?: { usage?: AnthropicUsage | null } | null;
  delta?: { type?: unknown; text?: unknown; stop_reason?: unknown } | null;
  usage?: AnthropicUsage | null;
  error?: { type?: unknown; message?: unknown } | null;
}

interface AnthropicUsage {
  input_tokens?: unknown;
  output_tokens?: unknown;
}

/** Error types that say the upstream is struggling rather than that the request is wrong. */
const TRANSIENT_ERRORS = new Set(['overloaded_error', 'api_error', 'rate_limit_error']);

function finishReasonOf(stopReason: string): FinishReason {
  // end_turn, stop_sequence, tool_use, refusal, pause_turn: the answer ended.
  return stopReason === 'max_tokens' ? 'length' : 'stop';
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** Reads a Messages API event stream into text events and one `done` at `message_stop`. */
export function createAnthropicTranslator(
  request: GenerationRequest,
  secrets: readonly string[],
): StreamTranslator {
  let finishReason: FinishReason | undefined;
  let inputTokens: number | undefined;
  let outputTokens: number | undefined;
  let text = '';

  function done(): GenerationEvent {
    const usage: TokenUsage = {
      promptTokens: inputTokens ?? estimatePromptTokens(request.input),
      completionTokens: outputTokens ?? countTextTokens(text),
    };
    return { type: 'done', finishReason: finishReason ?? 'stop', usage };
  }

  function recordUsage(usage: AnthropicUsage | null | undefined): void {
    if (!usage) return;
    inputTokens = count(usage.input_tokens) ?? inputTokens;
    // Cumulative: the last report is the total.
    outputTokens = count(usage.output_tokens) ?? outputTokens;
  }

  return {
    push(event) {
      let data: AnthropicStreamEvent;
      try {
        data = JSON.parse(event.data) as AnthropicStreamEvent;
      } catch {
        throw new UpstreamFailure('malformed', { detail: `${event.event} event is not JSON` });
      }
      if (data === null || typeof data !== 'object') {
        throw new UpstreamFailure('malformed', { detail: 'event is not an object' });
      }
      const type = typeof data.type === 'string' ? data.type : event.event;
      switch (type) {
        case 'message_start':
          recordUsage(data.message?.usage);
          return [];
        case 'content_block_delta': {
          const piece = data.delta?.type === 'text_delta' ? data.delta.text : undefined;
          if (typeof piece !== 'string' || piece === '') return [];
          text += piece;
          // An o200k estimate, metered if the stream is cut short; `done` brings the upstream's count.
          return [{ type: 'text', text: piece, tokens: countTextTokens(piece) }];
        }
        case 'message_delta':
          if (typeof data.delta?.stop_reason === 'string') {
            finishReason = finishReasonOf(data.delta.stop_reason);
          }
          recordUsage(data.usage);
          return [];
        case 'message_stop':
          return [done()];
        case 'error': {
          const errorType = typeof data.error?.type === 'string' ? data.error.type : 'unknown';
          const message = typeof data.error?.message === 'string' ? data.error.message : '';
          throw new UpstreamFailure('upstream-event', {
            retryable: TRANSIENT_ERRORS.has(errorType),
            detail: `${errorType}: ${redactForLog(message, secrets)}`,
          });
        }
        default:
          // ping, content_block_start/stop, thinking and tool blocks, future event types.
          return [];
      }
    },
    end() {
      if (finishReason !== undefined) return done();
      throw new UpstreamFailure('malformed', { detail: 'stream ended before message_stop' });
    },
  };
}
