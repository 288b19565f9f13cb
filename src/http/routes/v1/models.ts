import type { FastifyInstance, FastifySchema } from 'fastify';
import type { ModelDescriptor } from '../../../domain/ports.js';
import type { ModelService } from '../../../domain/services/model-service.js';
import { principalOf } from '../../plugins/authentication.js';
import { listBody } from './presenters.js';

function modelBody(model: ModelDescriptor) {
  return { id: model.id, object: 'model', created: model.created, owned_by: model.ownedBy };
}

export function registerModelRoutes(
  app: FastifyInstance,
  service: ModelService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    '/models',
    { schema: schemaOf('listModels') },
    async (request) => listBody(service.list(principalOf(request), request.query), modelBody),
  );

  app.get<{ Params: { id: string } }>(
    '/models/:id',
    { schema: schemaOf('getModel') },
    async (request) => modelBody(service.get(principalOf(request), request.params.id)),
  );
}
