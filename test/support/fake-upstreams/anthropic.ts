import {
  type Dialect,
  type FakeServerOptions,
  type FakeUpstream,
  type ReplyContext,
  startFakeServer,
} from './fake-server.js';
import { FAKE_SECRET } from './modes.js';

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

function stopReason(ctx: ReplyContext): string {
  return ctx.finish === 'length' ? 'max_tokens' : 'end_turn';
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
        ...(ctx.includeUsage
          ? { usage: { input_tokens: ctx.promptTokens, output_tokens: 1 } }
          : {}),
      },
    }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('ping', {}),
  ],
  streamChunk: (_endpoint, ctx, piece) =>
    event('content_block_delta', {
      index: 0,
      delta: { type: 'text_delta', text: piece },
      ...(ctx.padding ? { x_padding: ctx.padding } : {}),
    }),
  streamEnd: (_endpoint, ctx) => [
    event('content_block_stop', { index: 0 }),
    event('message_delta', {
      delta: { stop_reason: stopReason(ctx), stop_sequence: null },
      ...(ctx.includeUsage ? { usage: { output_tokens: ctx.pieces.length } } : {}),
    }),
    event('message_stop', {}),
  ],
  streamError: () =>
    event('error', {
      error: { type: 'overloaded_error', message: `Overloaded (key ${FAKE_SECRET})` },
    }),
  json: (_endpoint, ctx) => ({
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content: [{ type: 'text', text: ctx.pieces.join('') }],
    stop_reason: stopReason(ctx),
    stop_sequence: null,
    usage: { input_tokens: ctx.promptTokens, output_tokens: ctx.pieces.length },
  }),
};

/** A fake Anthropic Messages API (`POST /v1/messages`); `url` is the origin, like Anthropic's. */
export function startFakeAnthropic(options: FakeServerOptions = {}): Promise<FakeUpstream> {
  return startFakeServer(anthropicDialect, '', options);
}
