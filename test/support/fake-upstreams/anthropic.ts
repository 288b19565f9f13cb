import {
  type Dialect,
  type FakeServerOptions,
  type FakeUpstream,
  type ReplyContext,
  startFakeServer,
} from './fake-server.js';
import { type FakeToolCall, inputPieces, plannedToolCalls } from './anthropic-tool-use.js';
import { FAKE_SECRET, wordCount } from './modes.js';

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}`;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: unknown) =>
      block && typeof block === 'object' && 'text' in block && typeof block.text === 'string'
        ? block.text
        : '',
    )
    .join(' ');
}

/** How one request is answered: text, tool calls, or text then tool calls (under `auto`). */
interface Plan {
  calls: FakeToolCall[];
  /** Whether a text block (the reply's words) comes first. */
  text: boolean;
  /** The SSE frames of the tool_use blocks, and how many of them went out with text chunks. */
  toolFrames: string[];
  sent: number;
}

const plans = new WeakMap<ReplyContext, Plan>();

function toolFrames(calls: FakeToolCall[], firstIndex: number): string[] {
  return calls.flatMap((call, offset) => {
    const index = firstIndex + offset;
    return [
      event('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
      }),
      // Anthropic opens every tool input with an empty piece.
      ...['', ...inputPieces(call.input)].map((partial_json) =>
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } }),
      ),
      event('content_block_stop', { index }),
    ];
  });
}

function planOf(ctx: ReplyContext): Plan {
  let plan = plans.get(ctx);
  if (!plan) {
    const calls = plannedToolCalls(ctx.body, ctx.record.index);
    const choice = (ctx.body.tool_choice as { type?: unknown } | undefined)?.type ?? 'auto';
    // A forced call is prefilled: the model says nothing before it.
    const text = calls.length === 0 || choice === 'auto';
    plan = { calls, text, toolFrames: toolFrames(calls, text ? 1 : 0), sent: 0 };
    plans.set(ctx, plan);
  }
  return plan;
}

function stopReason(ctx: ReplyContext): string {
  if (planOf(ctx).calls.length > 0) return 'tool_use';
  return ctx.finish === 'length' ? 'max_tokens' : 'end_turn';
}

function cachedText(value: unknown, cached: boolean): string[] {
  if (typeof value === 'string') return cached ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item) => cachedText(item, cached));
  if (!value || typeof value !== 'object') return [];
  const node = value as Record<string, unknown>;
  const own = cached || node.cache_control !== undefined;
  return Object.entries(node).flatMap(([key, child]) =>
    key === 'cache_control' || key === 'type' ? [] : cachedText(child, own),
  );
}

/**
 * The usage of the prompt: words of blocks marked with cache_control count as read from the
 * cache, and the cache fields are reported only when the request set a breakpoint.
 */
function promptUsage(ctx: ReplyContext): Record<string, number> {
  if (!ctx.record.rawBody.includes('"cache_control"')) return { input_tokens: ctx.promptTokens };
  const read = wordCount(cachedText([ctx.body.system, ctx.body.messages], false).join(' '));
  return {
    input_tokens: ctx.promptTokens - read,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: read,
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

const anthropicDialect: Dialect = {
  endpoint: (method, path) =>
    method === 'POST' && path === '/v1/messages' ? 'messages' : undefined,
  authorized: (headers, apiKey) => headers['x-api-key'] === apiKey,
  promptText: (_endpoint, body) => {
    const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
    const texts = messages.map((message) =>
      message && typeof message === 'object' && 'content' in message
        ? contentText(message.content)
        : '',
    );
    return [contentText(body.system), ...texts].join(' ');
  },
  maxTokens: (body) => (typeof body.max_tokens === 'number' ? body.max_tokens : undefined),
  wantsUsage: () => true,
  errorBody: (status) => ({
    type: 'error',
    error: {
      type: ERROR_TYPES[status] ?? 'api_error',
      message:
        status === 400
          ? `prompt is too long: 210000 tokens > 200000 maximum (key ${FAKE_SECRET})`
          : `Fake upstream error ${status} (key ${FAKE_SECRET})`,
    },
  }),
  streamStart: (_endpoint, ctx) => [
    event('message_start', {
      message: {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model: ctx.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(ctx.includeUsage ? { usage: { ...promptUsage(ctx), output_tokens: 1 } } : {}),
      },
    }),
    ...(planOf(ctx).text
      ? [event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })]
      : []),
    event('ping', {}),
  ],
  streamChunk: (_endpoint, ctx, piece) => {
    const plan = planOf(ctx);
    if (!plan.text) {
      // The content chunks carry the tool_use frames, so that a mode's chunk counts still apply.
      const share = Math.ceil(plan.toolFrames.length / Math.max(1, ctx.pieces.length));
      const frames = plan.toolFrames.slice(plan.sent, plan.sent + share);
      plan.sent += frames.length;
      return frames.length > 0 ? frames.join('\n\n') : event('ping', {});
    }
    return event('content_block_delta', {
      index: 0,
      delta: { type: 'text_delta', text: piece },
      ...(ctx.padding ? { x_padding: ctx.padding } : {}),
    });
  },
  streamEnd: (_endpoint, ctx) => {
    const plan = planOf(ctx);
    return [
      ...(plan.text ? [event('content_block_stop', { index: 0 })] : []),
      ...plan.toolFrames.slice(plan.sent),
      event('message_delta', {
        delta: { stop_reason: stopReason(ctx), stop_sequence: null },
        ...(ctx.includeUsage ? { usage: { output_tokens: ctx.pieces.length } } : {}),
      }),
      event('message_stop', {}),
    ];
  },
  streamError: () =>
    event('error', {
      error: { type: 'overloaded_error', message: `Overloaded (key ${FAKE_SECRET})` },
    }),
  json: (_endpoint, ctx) => {
    const plan = planOf(ctx);
    return {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content: [
        ...(plan.text ? [{ type: 'text', text: ctx.pieces.join('') }] : []),
        ...plan.calls.map((call) => ({ type: 'tool_use', ...call })),
      ],
      stop_reason: stopReason(ctx),
      stop_sequence: null,
      usage: { ...promptUsage(ctx), output_tokens: ctx.pieces.length },
    };
  },
};

/**
 * A fake Anthropic Messages API (`POST /v1/messages`); `url` is the origin, like Anthropic's. It
 * answers with tool_use blocks when the request's tools and tool_choice allow (see
 * anthropic-tool-use.ts), their input streamed in `input_json_delta`s of a few characters.
 */
export function startFakeAnthropic(options: FakeServerOptions = {}): Promise<FakeUpstream> {
  return startFakeServer(anthropicDialect, '', options);
}
