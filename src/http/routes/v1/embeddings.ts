import type { FastifyInstance, FastifySchema } from 'fastify';
import type { EmbeddingInput } from '../../../domain/inference/embeddings.js';
import type { EmbeddingService } from '../../../domain/inference/embedding-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';
import { disconnectSignal } from './disconnect-signal.js';

type CreateEmbeddingRequest = components['schemas']['CreateEmbeddingRequest'];
type EmbeddingList = components['schemas']['EmbeddingList'];

/** OpenAI's four forms of `input` (the schema has checked which one it is) as one list. */
export function embeddingInputOf(input: CreateEmbeddingRequest['input']): EmbeddingInput {
  if (typeof input === 'string') return { kind: 'text', texts: [input] };
  const [first] = input;
  if (typeof first === 'string') return { kind: 'text', texts: input as string[] };
  if (typeof first === 'number') return { kind: 'tokens', tokens: [input as number[]] };
  return { kind: 'tokens', tokens: input as number[][] };
}

export function registerEmbeddingRoutes(
  app: FastifyInstance,
  service: EmbeddingService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post<{ Body: CreateEmbeddingRequest }>(
    '/embeddings',
    { schema: schemaOf('createEmbedding'), config: { idempotent: true } },
    async (request, reply): Promise<EmbeddingList> => {
      const body = request.body;
      const result = await service.create(
        {
          principal: principalOf(request),
          requestId: request.id,
          signal: disconnectSignal(request, reply),
        },
        {
          model: body.model,
          input: embeddingInputOf(body.input),
          encodingFormat: body.encoding_format ?? 'float',
          ...(body.dimensions === undefined ? {} : { dimensions: body.dimensions }),
          body,
        },
      );
      request.upstreamMs = result.timing.upstreamMs;
      return result.response;
    },
  );
}
