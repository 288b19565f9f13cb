import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Time spent waiting on a model (upstream or local), when the route involved one. */
    upstreamMs?: number;
  }
}

const ms = (value: number) => Math.max(0, value).toFixed(1);

/**
 * Server-Timing on every response: `gateway` is our own time, `upstream` the model's. For a
 * stream, headers leave with the first token, so `upstream` is then the time to first token.
 */
export function registerServerTiming(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const total = reply.elapsedTime;
    const upstream = request.upstreamMs;
    reply.header(
      'server-timing',
      upstream === undefined
        ? `gateway;dur=${ms(total)}`
        : `gateway;dur=${ms(total - upstream)}, upstream;dur=${ms(upstream)}`,
    );
    return payload;
  });
}
