import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IdempotencyService } from '../../domain/services/idempotency-service.js';
import { principalOf } from './authentication.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route honours Idempotency-Key (routes that return secrets or streams do not). */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    idempotencyKey?: string;
  }
}

const REPLAYED_HEADERS = ['content-type', 'location'];

function applies(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || request.routeOptions.config.idempotent !== true) return undefined;
  // A stream cannot be replayed byte for byte; the header is ignored for stream: true.
  if ((request.body as { stream?: unknown } | undefined)?.stream === true) return undefined;
  return key;
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
    request.idempotencyKey = key;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (key === undefined) return payload;
    request.idempotencyKey = undefined;
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const value = reply.getHeader(name);
      if (typeof value === 'string') headers[name] = value;
    }
    await service.finish(principalOf(request), key, {
      status: reply.statusCode,
      headers,
      body: typeof payload === 'string' ? payload : '',
    });
    return payload;
  });
}
