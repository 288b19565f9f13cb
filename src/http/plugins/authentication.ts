import type { FastifyRequest } from 'fastify';
import { AppError } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import type { AuthService } from '../../domain/services/auth-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** An onRequest hook: runs before body parsing, so an anonymous caller learns nothing about input. */
export function authenticationHook(auth: AuthService) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await auth.authenticate(request.headers.authorization);
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHORIZED');
  return request.principal;
}
