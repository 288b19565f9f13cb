import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';
import type { AuthService, TokenPair } from '../../../domain/services/auth-service.js';
import type { components } from '../../../generated/openapi.js';
import { principalOf } from '../../plugins/authentication.js';

type TokenRequest = components['schemas']['CreateTokenRequest'];
type RefreshRequest = components['schemas']['RefreshTokenRequest'];

function tokenBody(reply: FastifyReply, pair: TokenPair) {
  // Tokens must never be stored by a cache between the client and us.
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  return {
    access_token: pair.accessToken,
    token_type: 'Bearer',
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
  };
}

/** Sign-in and refresh: the two /v1 operations that cannot require a credential. */
export function registerPublicAuthRoutes(
  app: FastifyInstance,
  auth: AuthService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post<{ Body: TokenRequest }>(
    '/auth/token',
    { schema: schemaOf('createToken') },
    async (request, reply) =>
      tokenBody(reply, await auth.login(request.body.email, request.body.password, request.ip)),
  );
  app.post<{ Body: RefreshRequest }>(
    '/auth/refresh',
    { schema: schemaOf('refreshToken') },
    async (request, reply) => tokenBody(reply, await auth.refresh(request.body.refresh_token)),
  );
}

export function registerLogoutRoute(
  app: FastifyInstance,
  auth: AuthService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.post('/auth/logout', { schema: schemaOf('logout') }, async (request, reply) => {
    await auth.logout(principalOf(request));
    return reply.code(204).send();
  });
}

export function registerJwksRoute(
  app: FastifyInstance,
  auth: AuthService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.get('/.well-known/jwks.json', { schema: schemaOf('getJwks') }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return auth.jwks();
  });
}
