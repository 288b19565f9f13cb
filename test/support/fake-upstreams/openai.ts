import {
  type Dialect,
  type FakeServerOptions,
  type FakeUpstream,
  type ReplyContext,
  startFakeServer,
} from './fake-server.js';
import { FAKE_SECRET } from './modes.js';

const CREATED = 1_735_689_600;

function messagesText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  return messages
    .map((message) =>
      message &&
      typeof message === 'object' &&
      'content' in message &&
      typeof message.content === 'string'
        ? message.content
        : '',
    )
    .join(' ');
}

function usage(ctx: ReplyContext) {
  return {
    prompt_tokens: ctx.promptTokens,
    completion_tokens: ctx.pieces.length,
    total_tokens: ctx.promptTokens + ctx.pieces.length,
  };
}

function choiceChunk(endpoint: string, ctx: ReplyContext, choice: Record<string, unknown>): string {
  const chat = endpoint === 'chat';
  return `data: ${JSON.stringify({
    id: chat ? 'chatcmpl-fake' : 'cmpl-fake',
    object: chat ? 'chat.completion.chunk' : 'text_completion',
    created: CREATED,
    model: ctx.model,
    choices: [{ index: 0, ...choice }],
    ...(ctx.padding ? { x_padding: ctx.padding } : {}),
  })}`;
}

const openAIDialect: Dialect = {
  endpoint(method, path) {
    if (method !== 'POST') return undefined;
    if (path === '/v1/chat/completions') return 'chat';
    if (path === '/v1/completions') return 'text';
    return undefined;
  },
  authorized: (headers, apiKey) => headers.authorization === `Bearer ${apiKey}`,
  get: (path) =>
    path === '/v1/models'
      ? {
          object: 'list',
          data: [{ id: 'fake-model', object: 'model', created: CREATED, owned_by: 'fake' }],
        }
      : undefined,
  promptText: (endpoint, body) =>
    endpoint === 'chat' ? messagesText(body) : typeof body.prompt === 'string' ? body.prompt : '',
  maxTokens: (body) => (typeof body.max_tokens === 'number' ? body.max_tokens : undefined),
  wantsUsage: (body) => {
    const options = body.stream_options;
    return (
      body.stream !== true ||
      (typeof options === 'object' &&
        options !== null &&
        'include_usage' in options &&
        options.include_usage === true)
    );
  },
  errorBody: (status) => ({
    error: {
      message:
        status === 400
          ? `This model's maximum context length is 8192 tokens (request id req_1, key ${FAKE_SECRET})`
          : `Fake upstream error ${status} (key ${FAKE_SECRET})`,
      type:
        status === 400
          ? 'invalid_request_error'
          : status === 429
            ? 'rate_limit_error'
            : 'server_error',
      param: null,
      code: status === 400 ? 'context_length_exceeded' : null,
    },
  }),
  streamStart: (endpoint, ctx) =>
    endpoint === 'chat'
      ? [
          choiceChunk(endpoint, ctx, {
            delta: { role: 'assistant', content: '' },
            finish_reason: null,
          }),
        ]
      : [],
  streamChunk: (endpoint, ctx, piece) =>
    choiceChunk(
      endpoint,
      ctx,
      endpoint === 'chat'
        ? { delta: { content: piece }, finish_reason: null }
        : { text: piece, finish_reason: null },
    ),
  streamEnd: (endpoint, ctx) => [
    choiceChunk(
      endpoint,
      ctx,
      endpoint === 'chat'
        ? { delta: {}, finish_reason: ctx.finish }
        : { text: '', finish_reason: ctx.finish },
    ),
    ...(ctx.includeUsage
      ? [
          `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: CREATED, model: ctx.model, choices: [], usage: usage(ctx) })}`,
        ]
      : []),
    'data: [DONE]',
  ],
  streamError: () =>
    `data: ${JSON.stringify({ error: { message: `Fake mid-stream failure (key ${FAKE_SECRET})`, type: 'server_error' } })}`,
  json: (endpoint, ctx) => {
    const text = ctx.pieces.join('');
    const chat = endpoint === 'chat';
    return {
      id: chat ? 'chatcmpl-fake' : 'cmpl-fake',
      object: chat ? 'chat.completion' : 'text_completion',
      created: CREATED,
      model: ctx.model,
      choices: [
        chat
          ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: ctx.finish }
          : { index: 0, text, finish_reason: ctx.finish },
      ],
      ...(ctx.includeUsage ? { usage: usage(ctx) } : {}),
    };
  },
};

/**
 * A fake OpenAI API (`POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`);
 * `url` ends in `/v1`, like OpenAI's base URL.
 */
export function startFakeOpenAI(options: FakeServerOptions = {}): Promise<FakeUpstream> {
  return startFakeServer(openAIDialect, '/v1', options);
}
