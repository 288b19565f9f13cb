import type { FastifyInstance, FastifySchema } from 'fastify';
import type { SessionService } from '../../../domain/services/session-service.js';
import type { UserService } from '../../../domain/services/user-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';
import { deletedBody, listBody, sessionBody, userBody } from './presenters.js';

type ListQuery = { limit: number; cursor?: string };
type IdParams = { id: string };

export function registerUserRoutes(
  app: FastifyInstance,
  users: UserService,
  sessions: SessionService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post<{ Body: components['schemas']['CreateUserRequest'] }>(
    '/users',
    { schema: schemaOf('createUser'), config: { idempotent: true } },
    async (request, reply) => {
      const { email, password, role, organization_id } = request.body;
      const user = await users.create(principalOf(request), {
        email,
        password,
        role: role ?? 'member',
        ...(organization_id === undefined ? {} : { organizationId: organization_id }),
      });
      return reply.code(201).send(userBody(user));
    },
  );
  app.get<{ Querystring: ListQuery & { organization_id?: string } }>(
    '/users',
    { schema: schemaOf('listUsers') },
    async (request) => {
      const { organization_id, ...page } = request.query;
      const result = await users.list(principalOf(request), {
        ...page,
        ...(organization_id === undefined ? {} : { organizationId: organization_id }),
      });
      return listBody(result, userBody);
    },
  );
  app.get<{ Params: IdParams }>('/users/:id', { schema: schemaOf('getUser') }, async (request) =>
    userBody(await users.get(principalOf(request), request.params.id)),
  );
  app.patch<{ Params: IdParams; Body: components['schemas']['UpdateUserRequest'] }>(
    '/users/:id',
    { schema: schemaOf('updateUser') },
    async (request) =>
      userBody(await users.update(principalOf(request), request.params.id, request.body)),
  );
  app.delete<{ Params: IdParams }>(
    '/users/:id',
    { schema: schemaOf('deleteUser') },
    async (request) => {
      await users.delete(principalOf(request), request.params.id);
      return deletedBody(request.params.id, 'user');
    },
  );
  app.get<{ Params: IdParams; Querystring: ListQuery }>(
    '/users/:id/sessions',
    { schema: schemaOf('listUserSessions') },
    async (request) => {
      const principal = principalOf(request);
      const current =
        principal.credential.type === 'access_token' ? principal.credential.sessionId : null;
      const result = await sessions.listForUser(principal, request.params.id, request.query);
      return listBody(result, (session) => sessionBody(session, current));
    },
  );
  app.delete<{ Params: IdParams }>(
    '/sessions/:id',
    { schema: schemaOf('deleteSession') },
    async (request) => {
      await sessions.revoke(principalOf(request), request.params.id);
      return deletedBody(request.params.id, 'session');
    },
  );
}
