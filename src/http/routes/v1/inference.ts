import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { contentText, type ChatCompletionBody } from '../../../domain/inference/chat-request.js';
import type { ChatMessage } from '../../../domain/ports.js';
import type {
  CompletionParams,
  CompletionService,
} from '../../../domain/services/completion-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';
import { chatCompletionBody, type ChatAnswer } from './chat-render.js';
import { chatChunkRenderer } from './chat-sse.js';
import { completionBody, completionChunkRenderer } from './completion-render.js';
import { disconnectSignal } from './disconnect-signal.js';
import type { AnswerIdentity } from './relayed-body.js';
import { sseStream, type FrameRenderer, type OpenedEvents } from './sse.js';

type CompletionRequest = components['schemas']['CreateCompletionRequest'];
type ChatCompletionRequest = components['schemas']['CreateChatCompletionRequest'];

/** How one inbound dialect is answered: a whole body, or a stream of frames. */
interface Dialect {
  body(answer: ChatAnswer): unknown;
  renderer(identity: AnswerIdentity): FrameRenderer;
}

function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop === undefined || stop === null) return [];
  return Array.isArray(stop) ? stop : [stop];
}

/** `Cache-Control: no-cache` or `no-store` on the request opts out of the response cache. */
function cacheModeOf(request: FastifyRequest): CompletionParams['cacheMode'] {
  const header = request.headers['cache-control'] ?? '';
  return /\bno-(cache|store)\b/i.test(header) ? 'bypass' : 'use';
}

/**
 * The plain sampling fields every provider reads. A field left out (or null) takes the local and
 * Anthropic defaults here; an OpenAI-compatible upstream gets the chat body as sent instead.
 */
function samplingOf(body: {
  temperature?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  seed?: number | null;
}): Pick<CompletionParams, 'temperature' | 'topP' | 'stop' | 'seed'> {
  return {
    temperature: body.temperature ?? 0.7,
    topP: body.top_p ?? 1,
    stop: stopList(body.stop),
    ...(body.seed === undefined || body.seed === null ? {} : { seed: body.seed }),
  };
}

async function respond(
  service: CompletionService,
  request: FastifyRequest,
  reply: FastifyReply,
  params: CompletionParams,
  dialect: Dialect,
) {
  const ctx = {
    principal: principalOf(request),
    requestId: request.id,
    signal: disconnectSignal(request, reply),
  };
  if (!params.stream) {
    const result = await service.complete(ctx, params);
    reply.header('x-cache', result.cache.toUpperCase());
    request.upstreamMs = result.timing.upstreamMs;
    return dialect.body(result);
  }
  const generation = await service.start(ctx, params);
  // Waiting for the first event before sending headers turns a model that fails before saying
  // anything into an ordinary error response (after fallbacks), instead of a broken stream.
  const rest = generation.events[Symbol.asyncIterator]();
  const events: OpenedEvents = { first: await rest.next(), rest };
  reply.header('x-cache', generation.cache.toUpperCase());
  request.upstreamMs = generation.timing.upstreamMs;
  const frames = sseStream(events, dialect.renderer(generation), request.id);
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(Readable.from(frames, { objectMode: false }));
}

export function registerInferenceRoutes(
  app: FastifyInstance,
  service: CompletionService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post<{ Body: CompletionRequest }>(
    '/completions',
    { schema: schemaOf('createCompletion'), config: { idempotent: true } },
    async (request, reply) => {
      const body = request.body;
      const includeUsage = body.stream_options?.include_usage === true;
      return respond(
        service,
        request,
        reply,
        {
          cacheMode: cacheModeOf(request),
          endpoint: 'completions',
          model: body.model,
          input: { kind: 'text', prompt: body.prompt },
          maxTokens: body.max_tokens ?? 512,
          ...samplingOf(body),
          stream: body.stream === true,
        },
        {
          body: completionBody,
          renderer: (identity) => completionChunkRenderer(identity, includeUsage),
        },
      );
    },
  );

  app.post<{ Body: ChatCompletionRequest }>(
    '/chat/completions',
    { schema: schemaOf('createChatCompletion'), config: { idempotent: true } },
    async (request, reply) => {
      const body = request.body;
      // The document validated this body; the domain's type of it is the same shape, but
      // splits content parts by `type`, which the generated type cannot.
      const chat = body as ChatCompletionBody;
      // The conversation as text, for what counts prompt tokens and for text-only providers;
      // the parts themselves travel in `chat`.
      const messages: ChatMessage[] = chat.messages.map((message) => ({
        role: message.role,
        content: contentText(message.content),
        ...(message.name === undefined ? {} : { name: message.name }),
      }));
      const includeUsage = body.stream_options?.include_usage === true;
      return respond(
        service,
        request,
        reply,
        {
          cacheMode: cacheModeOf(request),
          endpoint: 'chat.completions',
          model: body.model,
          input: { kind: 'chat', messages },
          maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 512,
          ...samplingOf(body),
          stream: body.stream === true,
          chat,
        },
        {
          body: chatCompletionBody,
          renderer: (identity) => chatChunkRenderer(identity, includeUsage),
        },
      );
    },
  );
}
