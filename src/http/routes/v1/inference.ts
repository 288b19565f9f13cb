import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { ChatMessage, GenerationEvent, GenerationInput } from '../../../domain/ports.js';
import type {
  CompletionParams,
  CompletionService,
  Generation,
} from '../../../domain/services/completion-service.js';
import type { components } from '../../../generated/openapi.js';
import { toAppError } from '../../errors.js';
import { principalOf } from '../../plugins/authentication.js';
import { completionBody, sseChunks, type Endpoint } from './openai-format.js';

type CompletionRequest = components['schemas']['CreateCompletionRequest'];
type ChatCompletionRequest = components['schemas']['CreateChatCompletionRequest'];
type CommonFields = Omit<CompletionRequest, 'prompt'>;

function stopList(stop: CommonFields['stop']): string[] {
  if (stop === undefined || stop === null) return [];
  return Array.isArray(stop) ? stop : [stop];
}

/** `Cache-Control: no-cache` or `no-store` on the request opts out of the response cache. */
function cacheModeOf(request: FastifyRequest): CompletionParams['cacheMode'] {
  const header = request.headers['cache-control'] ?? '';
  return /\bno-(cache|store)\b/i.test(header) ? 'bypass' : 'use';
}

function paramsFrom(
  request: FastifyRequest,
  endpoint: Endpoint,
  body: CommonFields,
  input: GenerationInput,
  maxTokens: number,
): CompletionParams {
  return {
    cacheMode: cacheModeOf(request),
    endpoint,
    model: body.model,
    input,
    maxTokens,
    // Defaults are applied by the validator from the document; these only satisfy the types.
    temperature: body.temperature ?? 0.7,
    topP: body.top_p ?? 1,
    stop: stopList(body.stop),
    ...(body.seed === undefined ? {} : { seed: body.seed }),
    stream: body.stream === true,
  };
}

async function peekFirst(generation: Generation): Promise<Generation> {
  const iterator = generation.events[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* rest(): AsyncGenerator<GenerationEvent> {
    try {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return { ...generation, events: rest() };
}

/** Aborts generation when the client goes away before the response has been fully written. */
function disconnectSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  request.raw.on('aborted', () => controller.abort());
  return controller.signal;
}

async function respond(
  service: CompletionService,
  request: FastifyRequest,
  reply: FastifyReply,
  params: CompletionParams,
  includeUsage: boolean,
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
    return completionBody(params.endpoint, result);
  }
  const started = await service.start(ctx, params);
  // Waiting for the first event before sending headers turns a model that fails before saying
  // anything into an ordinary error response (after fallbacks), instead of a broken stream.
  const generation = await peekFirst(started);
  reply.header('x-cache', started.cache.toUpperCase());
  request.upstreamMs = started.timing.upstreamMs;
  const chunks = sseChunks(params.endpoint, generation, {
    includeUsage,
    requestId: request.id,
    toAppError,
  });
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(Readable.from(chunks, { objectMode: false }));
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
      const params = paramsFrom(
        request,
        'completions',
        body,
        { kind: 'text', prompt: body.prompt },
        body.max_tokens ?? 512,
      );
      return respond(service, request, reply, params, body.stream_options?.include_usage === true);
    },
  );

  app.post<{ Body: ChatCompletionRequest }>(
    '/chat/completions',
    { schema: schemaOf('createChatCompletion'), config: { idempotent: true } },
    async (request, reply) => {
      const body = request.body;
      const messages: ChatMessage[] = body.messages.map((message) => ({
        role: message.role,
        content: message.content,
        ...(message.name === undefined ? {} : { name: message.name }),
      }));
      const params = paramsFrom(
        request,
        'chat.completions',
        body,
        { kind: 'chat', messages },
        body.max_completion_tokens ?? body.max_tokens ?? 512,
      );
      return respond(service, request, reply, params, body.stream_options?.include_usage === true);
    },
  );
}
