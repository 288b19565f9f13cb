import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IdempotencyService } from '../../domain/services/idempotency-service.js';
import { principalOf } from './authentication.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route honours Idempotency-Key (not for streams; a route whose answer carries a secret
     * names what to replay instead with replayInstead).
     */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /** This request's claim on its Idempotency-Key, until its response is kept or released. */
    idempotency?: HeldKey;
  }
}

interface HeldKey {
  key: string;
  claim: string;
  /** What a replay answers instead of the response being sent (see replayInstead). */
  substitute?: { status: number; body: string };
}

const REPLAYED_HEADERS = ['content-type', 'location'];

function replayedHeaders(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name);
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

function applies(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || request.routeOptions.config.idempotent !== true) return undefined;
  // A stream cannot be replayed byte for byte; the header is ignored for stream: true.
  if ((request.body as { stream?: unknown } | undefined)?.stream === true) return undefined;
  return key;
}

/**
 * For a response that must never be stored as sent (it carries a secret): a retry with the same
 * Idempotency-Key is answered `status` and `body` instead, if this request succeeds. Without a
 * key in play it does nothing.
 */
export function replayInstead(request: FastifyRequest, status: number, body: unknown): void {
  if (request.idempotency) request.idempotency.substitute = { status, body: JSON.stringify(body) };
}

/** Runs after validation, so a rejected request never claims a key. */
export function registerIdempotency(app: FastifyInstance, service: IdempotencyService): void {
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = applies(request);
    if (key === undefined) return;
    const outcome = await service.begin(principalOf(request), key, {
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      body: request.body,
    });
    if (outcome.kind === 'replay') {
      const { status, headers, body } = outcome.response;
      reply.code(status).headers(headers).header('idempotent-replayed', 'true');
      return reply.send(body);
    }
    request.idempotency = { key, claim: outcome.claim };
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const held = request.idempotency;
    if (held === undefined) return payload;
    request.idempotency = undefined;
    const substitute = reply.statusCode < 300 ? held.substitute : undefined;
    const response = substitute
      ? {
          status: substitute.status,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: substitute.body,
        }
      : {
          status: reply.statusCode,
          headers: replayedHeaders(reply),
          body: typeof payload === 'string' ? payload : '',
        };
    await service.finish(principalOf(request), held.key, held.claim, response);
    return payload;
  });
}
