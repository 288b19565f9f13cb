import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's X-Request-Id when it is a safe token, otherwise a fresh one. */
export function requestIdFrom(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  if (typeof header === 'string' && SAFE_REQUEST_ID.test(header)) return header;
  return `req_${randomBytes(12).toString('hex')}`;
}

/**
 * The request id on every response, and one log line at the start and one at the end of every
 * request. Lines carry the route template, never the raw URL, headers or body.
 */
export function registerRequestContext(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched' },
      'request start',
    );
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
        ...(request.principal ? { principal_id: request.principal.id } : {}),
      },
      'request end',
    );
  });
}
