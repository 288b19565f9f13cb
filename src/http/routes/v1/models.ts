import type { FastifyInstance, FastifySchema } from 'fastify';
import type { RouteCapabilities } from '../../../domain/inference/capabilities.js';
import type { ModelDescriptor } from '../../../domain/ports.js';
import type { ModelService } from '../../../domain/services/model-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';
import { listBody } from './presenters.js';

type Model = components['schemas']['Model'];
type ModelCapabilities = components['schemas']['ModelCapabilities'];

function modelBody(model: ModelDescriptor): Model {
  return {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: model.ownedBy,
    ...(model.capabilities === undefined
      ? {}
      : { capabilities: capabilitiesBody(model.capabilities) }),
  };
}

/** As MODELS_FILE spells them; what the operator left undeclared stays out. */
function capabilitiesBody(declared: RouteCapabilities): ModelCapabilities {
  const body: ModelCapabilities = {
    completions: declared.completions,
    embeddings: declared.embeddings,
  };
  if (declared.tools !== undefined) body.tools = declared.tools;
  if (declared.vision !== undefined) body.vision = declared.vision;
  if (declared.jsonSchema !== undefined) body.json_schema = declared.jsonSchema;
  if (declared.contextWindow !== undefined) body.context_window = declared.contextWindow;
  return body;
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
