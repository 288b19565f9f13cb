import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { outcomeStatus } from './response-outcome.js';

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
  app.addHook('onRequest', async (request, reply) => startRequest(request, reply));
  // onResponse writes the line as soon as a response has finished; the response's `close` is the
  // only event for one whose client left, and it writes the line if nothing did before.
  app.addHook('onResponse', async (request, reply) => endRequest(request, reply));
}

const ended = new WeakSet<FastifyRequest>();

/** The request id header and the start line; also called for requests no hook sees. */
export function startRequest(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  request.log.info(
    { method: request.method, route: request.routeOptions.url ?? 'unmatched' },
    'request start',
  );
  reply.raw.once('close', () => endRequest(request, reply));
}

function endRequest(request: FastifyRequest, reply: FastifyReply): void {
  if (ended.has(request)) return;
  ended.add(request);
  request.log.info(
    {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: outcomeStatus(reply),
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.principal ? { principal_id: request.principal.id } : {}),
    },
    'request end',
  );
}
