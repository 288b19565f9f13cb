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
  index?: unknown;
  message?: { usage?: AnthropicUsage | null } | null;
  content_block?: { type?: unknown; id?: unknown; name?: unknown } | null;
  delta?: {
    type?: unknown;
    text?: unknown;
    partial_json?: unknown;
    stop_reason?: unknown;
  } | null;
  usage?: AnthropicUsage | null;
  error?: { type?: unknown; message?: unknown } | null;
}

interface AnthropicUsage {
  input_tokens?: unknown;
  output_tokens?: unknown;
  cache_read_input_tokens?: unknown;
  cache_creation_input_tokens?: unknown;
  output_tokens_details?: { thinking_tokens?: unknown } | null;
}

/** Error types that say the upstream is struggling rather than that the request is wrong. */
const TRANSIENT_ERRORS = new Set(['overloaded_error', 'api_error', 'rate_limit_error']);

/** `stop_reason` as a Chat Completions finish reason; a call of the answer tool is an answer. */
export function finishReasonOf(stopReason: string, calledTools: boolean): FinishReason {
  switch (stopReason) {
    case 'tool_use':
      return calledTools ? 'tool_calls' : 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn: the answer ended.
      return 'stop';
  }
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Anthropic's usage in the gateway's terms. OpenAI's prompt_tokens includes cached tokens, while
 * Anthropic's input_tokens excludes both the tokens read from the cache and those written to it,
 * so all three add up to the prompt; cachedTokens is what was read.
 */
export class AnthropicUsageTally {
  private input: number | undefined;
  private output: number | undefined;
  private cacheRead: number | undefined;
  private cacheWrite: number | undefined;
  private thinking: number | undefined;

  /** Every report is cumulative: the last one is the total. */
  record(usage: AnthropicUsage | null | undefined): void {
    if (!usage) return;
    this.input = count(usage.input_tokens) ?? this.input;
    this.output = count(usage.output_tokens) ?? this.output;
    this.cacheRead = count(usage.cache_read_input_tokens) ?? this.cacheRead;
    this.cacheWrite = count(usage.cache_creation_input_tokens) ?? this.cacheWrite;
    this.thinking = count(usage.output_tokens_details?.thinking_tokens) ?? this.thinking;
  }

  usage(estimate: { promptTokens: () => number; completionTokens: () => number }): TokenUsage {
    const prompt =
      this.input === undefined
        ? estimate.promptTokens()
        : this.input + (this.cacheRead ?? 0) + (this.cacheWrite ?? 0);
    return {
      promptTokens: prompt,
      completionTokens: this.output ?? estimate.completionTokens(),
      ...(this.cacheRead === undefined ? {} : { cachedTokens: this.cacheRead }),
      ...(this.thinking === undefined ? {} : { reasoningTokens: this.thinking }),
    };
  }
}

/** The non-empty piece a delta of `type` carries. */
function textOf(
  data: AnthropicStreamEvent,
  type: 'text_delta' | 'input_json_delta',
): string | undefined {
  if (data.delta?.type !== type) return undefined;
  const piece = type === 'text_delta' ? data.delta.text : data.delta.partial_json;
  return typeof piece === 'string' && piece !== '' ? piece : undefined;
}

/** What a content block of the stream becomes. */
type Block =
  | { kind: 'text' }
  | { kind: 'answer' }
  | { kind: 'call'; index: number }
  // Thinking and server-side tool blocks: nothing the client is shown.
  | { kind: 'hidden' };

/**
 * Reads a Messages API event stream into canonical events and one `done` at `message_stop`: text
 * deltas as `text`, each `tool_use` block as a `toolCall` numbered 0, 1, … in the order calls
 * start (Anthropic's block index counts text blocks too), its `input_json_delta`s as argument
 * pieces. The input of `responseTool`, forced for a `response_format`, is the answer's text.
 */
export function createAnthropicTranslator(
  request: GenerationRequest,
  secrets: readonly string[],
  responseTool?: string,
): StreamTranslator {
  let stopReason: string | undefined;
  const tally = new AnthropicUsageTally();
  const blocks = new Map<number, Block>();
  let calls = 0;
  let generated = '';

  function done(): GenerationEvent {
    const usage = tally.usage({
      promptTokens: () => estimatePromptTokens(request.input),
      completionTokens: () => countTextTokens(generated),
    });
    const finishReason = finishReasonOf(stopReason ?? 'end_turn', calls > 0);
    return { type: 'done', finishReason, usage };
  }

  function startBlock(data: AnthropicStreamEvent): GenerationEvent[] {
    const block = data.content_block;
    const at = count(data.index);
    if (at === undefined) return [];
    if (block?.type !== 'tool_use') {
      blocks.set(at, { kind: (block?.type ?? 'text') === 'text' ? 'text' : 'hidden' });
      return [];
    }
    if (typeof block.name !== 'string' || typeof block.id !== 'string') {
      throw new UpstreamFailure('malformed', { detail: 'tool_use block without id or name' });
    }
    if (block.name === responseTool) {
      blocks.set(at, { kind: 'answer' });
      return [];
    }
    const index = calls;
    calls += 1;
    blocks.set(at, { kind: 'call', index });
    return [{ type: 'toolCall', index, id: block.id, name: block.name, arguments: '' }];
  }

  function delta(data: AnthropicStreamEvent): GenerationEvent[] {
    // A delta without its block's start is read as text, as this translator always did.
    const block = blocks.get(count(data.index) ?? -1) ?? { kind: 'text' };
    if (block.kind === 'hidden') return [];
    const piece =
      block.kind === 'text' ? textOf(data, 'text_delta') : textOf(data, 'input_json_delta');
    if (piece === undefined) return [];
    generated += piece;
    // An o200k estimate, metered if the stream is cut short; `done` brings the upstream's count.
    const tokens = countTextTokens(piece);
    if (block.kind === 'call') {
      return [{ type: 'toolCall', index: block.index, arguments: piece, tokens }];
    }
    return [{ type: 'text', text: piece, tokens }];
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
          tally.record(data.message?.usage);
          return [];
        case 'content_block_start':
          return startBlock(data);
        case 'content_block_delta':
          return delta(data);
        case 'message_delta':
          if (typeof data.delta?.stop_reason === 'string') stopReason = data.delta.stop_reason;
          tally.record(data.usage);
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
          // ping, content_block_stop, thinking deltas, future event types.
          return [];
      }
    },
    end() {
      if (stopReason !== undefined) return done();
      throw new UpstreamFailure('malformed', { detail: 'stream ended before message_stop' });
    },
  };
}
