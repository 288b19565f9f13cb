import type { FastifyInstance, FastifySchema } from 'fastify';
import type { OrganizationService } from '../../../domain/services/organization-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';
import { listBody, organizationBody } from './presenters.js';

type ListQuery = { limit: number; cursor?: string };

export function registerOrganizationRoutes(
  app: FastifyInstance,
  organizations: OrganizationService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post<{ Body: components['schemas']['CreateOrganizationRequest'] }>(
    '/organizations',
    { schema: schemaOf('createOrganization'), config: { idempotent: true } },
    async (request, reply) => {
      const org = await organizations.create(principalOf(request), { name: request.body.name });
      return reply.code(201).send(organizationBody(org));
    },
  );
  app.get<{ Querystring: ListQuery }>(
    '/organizations',
    { schema: schemaOf('listOrganizations') },
    async (request) =>
      listBody(await organizations.list(principalOf(request), request.query), organizationBody),
  );
}
