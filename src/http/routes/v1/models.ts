import type { FastifyInstance, FastifySchema } from 'fastify';
import type { ModelDescriptor } from '../../../domain/ports.js';
import type { ModelService } from '../../../domain/services/model-service.js';
import { principalOf } from '../../plugins/authentication.js';
import { decodeCursor, encodeCursor } from '../../pagination.js';

function modelBody(model: ModelDescriptor) {
  return { id: model.id, object: 'model', created: model.created, owned_by: model.ownedBy };
}

export function registerModelRoutes(
  app: FastifyInstance,
  service: ModelService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/models',
    { schema: schemaOf('listModels') },
    async (request) => {
      const limit = request.query.limit ?? 20;
      const after =
        request.query.cursor === undefined ? undefined : decodeCursor(request.query.cursor);
      const page = service.list(principalOf(request), {
        limit,
        ...(after === undefined ? {} : { after }),
      });
      return {
        object: 'list',
        data: page.data.map(modelBody),
        pagination: {
          cursor: page.nextAfter === null ? null : encodeCursor(page.nextAfter),
          has_more: page.nextAfter !== null,
          limit,
        },
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/models/:id',
    { schema: schemaOf('getModel') },
    async (request) => modelBody(service.get(principalOf(request), request.params.id)),
  );
}
