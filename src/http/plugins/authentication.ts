import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import {
  rateLimitHeaderValues,
  type RateLimitService,
} from '../../domain/rate-limit/rate-limit-service.js';
import type { AuthService } from '../../domain/services/auth-service.js';
import { traced } from './tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * An onRequest hook: runs before body parsing, so an anonymous caller learns nothing about input.
 * Then the caller's request limits are charged and reported in X-RateLimit-* headers. A refused
 * credential is charged to the client address instead, which bounds guessing.
 */
export function authenticationHook(auth: AuthService, limits: RateLimitService) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      request.principal = await traced(request, 'authenticate', () =>
        auth.authenticate(request.headers.authorization),
      );
    } catch (error) {
      if (isAppError(error) && error.code === 'UNAUTHORIZED') {
        await traced(request, 'rate limit address', () => limits.admitAddress(request.ip));
      }
      throw error;
    }
    const principal = request.principal;
    const headers = await traced(request, 'rate limit request', () =>
      limits.admitRequest(principal),
    );
    if (headers) reply.headers(rateLimitHeaderValues(headers));
  };
}

/** For the routes that cannot require a credential (sign-in, refresh): limits per address. */
export function addressLimitHook(limits: RateLimitService) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const headers = await traced(request, 'rate limit address', () =>
      limits.admitAddress(request.ip),
    );
    if (headers) reply.headers(rateLimitHeaderValues(headers));
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHORIZED');
  return request.principal;
}
