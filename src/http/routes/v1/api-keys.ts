import type { FastifyInstance, FastifySchema } from 'fastify';
import type { ApiKeyService } from '../../../domain/services/api-key-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';
import { replayInstead } from '../../plugins/idempotency.js';
import { apiKeyBody, deletedBody, listBody } from './presenters.js';

type ListQuery = { limit: number; cursor?: string };

export function registerApiKeyRoutes(
  app: FastifyInstance,
  keys: ApiKeyService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post<{ Body: components['schemas']['CreateApiKeyRequest'] }>(
    '/api-keys',
    { schema: schemaOf('createApiKey'), config: { idempotent: true } },
    async (request, reply) => {
      const { name, scopes, expires_at, rate_limit } = request.body;
      const { key, secret } = await keys.create(principalOf(request), {
        name,
        scopes,
        ...(expires_at === undefined ? {} : { expiresAt: new Date(expires_at * 1000) }),
        ...(rate_limit === undefined
          ? {}
          : {
              rateLimit: {
                requestsPerMinute: rate_limit.requests_per_minute,
                tokensPerMinute: rate_limit.tokens_per_minute,
              },
            }),
      });
      // The secret is in this body and nowhere else, ever: no cache may keep it, and a retry with
      // the same Idempotency-Key learns which key was made (200, no secret) rather than making one.
      replayInstead(request, 200, apiKeyBody(key));
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return reply.code(201).send({ ...apiKeyBody(key), secret });
    },
  );
  app.get<{ Querystring: ListQuery }>(
    '/api-keys',
    { schema: schemaOf('listApiKeys') },
    async (request) => listBody(await keys.list(principalOf(request), request.query), apiKeyBody),
  );
  app.get<{ Params: { id: string } }>(
    '/api-keys/:id',
    { schema: schemaOf('getApiKey') },
    async (request) => apiKeyBody(await keys.get(principalOf(request), request.params.id)),
  );
  app.delete<{ Params: { id: string } }>(
    '/api-keys/:id',
    { schema: schemaOf('deleteApiKey') },
    async (request) => {
      await keys.revoke(principalOf(request), request.params.id);
      return deletedBody(request.params.id, 'api_key');
    },
  );
}
