import {
  type Dialect,
  type FakeServerOptions,
  type FakeUpstream,
  type ReplyContext,
  startFakeServer,
} from './fake-server.js';
import { FAKE_SECRET } from './modes.js';
import { completionChoices, completionTokens, planChat, streamedChoices } from './openai-chat.js';

const CREATED = 1_735_689_600;

/** A message's text: its string content, or its text parts joined. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) =>
      part !== null && typeof part === 'object' && 'text' in part && typeof part.text === 'string'
        ? part.text
        : '',
    )
    .join(' ');
}

function messagesText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  return messages
    .map((message) =>
      message !== null && typeof message === 'object' && 'content' in message
        ? contentText(message.content)
        : '',
    )
    .join(' ');
}

function usage(endpoint: string, ctx: ReplyContext) {
  const completion = endpoint === 'chat' ? completionTokens(planChat(ctx)) : ctx.pieces.length;
  const details = ctx.record.mode.usageDetails;
  return {
    prompt_tokens: ctx.promptTokens,
    completion_tokens: completion,
    total_tokens: ctx.promptTokens + completion,
    ...(details?.cachedTokens === undefined
      ? {}
      : { prompt_tokens_details: { cached_tokens: details.cachedTokens, audio_tokens: 0 } }),
    ...(details?.reasoningTokens === undefined
      ? {}
      : {
          completion_tokens_details: {
            reasoning_tokens: details.reasoningTokens,
            audio_tokens: 0,
            accepted_prediction_tokens: 0,
            rejected_prediction_tokens: 0,
          },
        }),
  };
}

/**
 * One streamed chunk. A chat stream that asked for usage carries `usage: null` on every chunk
 * but the last, as OpenAI's does.
 */
function chunk(endpoint: string, ctx: ReplyContext, fields: Record<string, unknown>): string {
  const chat = endpoint === 'chat';
  return `data: ${JSON.stringify({
    id: chat ? 'chatcmpl-fake' : 'cmpl-fake',
    object: chat ? 'chat.completion.chunk' : 'text_completion',
    created: CREATED,
    model: ctx.model,
    ...fields,
    ...(chat && ctx.includeUsage && !('usage' in fields) ? { usage: null } : {}),
    ...(ctx.padding ? { x_padding: ctx.padding } : {}),
  })}`;
}

function choiceChunk(endpoint: string, ctx: ReplyContext, choice: Record<string, unknown>): string {
  return chunk(endpoint, ctx, { choices: [{ index: 0, ...choice }] });
}

function eachChoice(ctx: ReplyContext, choice: Record<string, unknown>): string[] {
  return Array.from({ length: planChat(ctx).n }, (_, index) =>
    choiceChunk('chat', ctx, { ...choice, index }),
  );
}

/** Input `index`'s vector: exact in float32, so a base64 answer decodes to the same numbers. */
export function fakeEmbedding(index: number, dimensions = 8): number[] {
  return Array.from({ length: dimensions }, (_, d) => (index + 1) * 0.5 + d * 0.25);
}

/** OpenAI's embeddings answer; prompt tokens are words of text inputs, or the ids given. */
function embeddingsJson(ctx: ReplyContext) {
  const { input, dimensions, encoding_format: encoding } = ctx.body;
  const inputs: unknown[] = Array.isArray(input) && typeof input[0] !== 'number' ? input : [input];
  const tokens = inputs.reduce<number>(
    (sum, one) =>
      sum + (Array.isArray(one) ? one.length : String(one).split(/\s+/).filter(Boolean).length),
    0,
  );
  return {
    object: 'list',
    data: inputs.map((_, index) => {
      const vector = fakeEmbedding(index, typeof dimensions === 'number' ? dimensions : undefined);
      return {
        object: 'embedding',
        index,
        embedding:
          encoding === 'base64'
            ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
            : vector,
      };
    }),
    model: ctx.model,
    ...(ctx.includeUsage ? { usage: { prompt_tokens: tokens, total_tokens: tokens } } : {}),
  };
}

const openAIDialect: Dialect = {
  endpoint(method, path) {
    if (method !== 'POST') return undefined;
    if (path === '/v1/chat/completions') return 'chat';
    if (path === '/v1/completions') return 'text';
    if (path === '/v1/embeddings') return 'embeddings';
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
  maxTokens: (body) =>
    typeof body.max_completion_tokens === 'number'
      ? body.max_completion_tokens
      : typeof body.max_tokens === 'number'
        ? body.max_tokens
        : undefined,
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
      ? eachChoice(ctx, {
          delta: { role: 'assistant', content: planChat(ctx).calls.length > 0 ? null : '' },
          finish_reason: null,
        })
      : [],
  contentFrames: (endpoint, ctx) => {
    if (endpoint !== 'chat') return undefined;
    const choices = streamedChoices(planChat(ctx));
    return {
      count: choices.length,
      frame: (index) => chunk(endpoint, ctx, { choices: [choices[index]] }),
    };
  },
  streamChunk: (endpoint, ctx, piece) =>
    choiceChunk(
      endpoint,
      ctx,
      endpoint === 'chat'
        ? { delta: { content: piece }, finish_reason: null }
        : { text: piece, finish_reason: null },
    ),
  streamEnd: (endpoint, ctx) => [
    ...(endpoint === 'chat'
      ? eachChoice(ctx, { delta: {}, finish_reason: planChat(ctx).finish })
      : [choiceChunk(endpoint, ctx, { text: '', finish_reason: ctx.finish })]),
    ...(ctx.includeUsage
      ? [chunk(endpoint, ctx, { choices: [], usage: usage(endpoint, ctx) })]
      : []),
    'data: [DONE]',
  ],
  streamError: () =>
    `data: ${JSON.stringify({ error: { message: `Fake mid-stream failure (key ${FAKE_SECRET})`, type: 'server_error' } })}`,
  json: (endpoint, ctx) => {
    if (endpoint === 'embeddings') return embeddingsJson(ctx);
    const text = ctx.pieces.join('');
    const chat = endpoint === 'chat';
    return {
      id: chat ? 'chatcmpl-fake' : 'cmpl-fake',
      object: chat ? 'chat.completion' : 'text_completion',
      created: CREATED,
      model: ctx.model,
      choices: chat
        ? completionChoices(planChat(ctx))
        : [{ index: 0, text, finish_reason: ctx.finish }],
      ...(ctx.includeUsage ? { usage: usage(endpoint, ctx) } : {}),
    };
  },
};

/**
 * A fake OpenAI API (`POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings`,
 * `GET /v1/models`); `url` ends in `/v1`, like OpenAI's base URL.
 */
export function startFakeOpenAI(options: FakeServerOptions = {}): Promise<FakeUpstream> {
  return startFakeServer(openAIDialect, '/v1', options);
}
