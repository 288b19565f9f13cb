import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { outcomeStatus } from './response-outcome.js';

export { CLIENT_CLOSED_REQUEST } from './response-outcome.js';

/** One request, recorded when its response has ended or its client has gone. */
export interface HttpRequestSample {
  method: string;
  /** The route template (`/v1/models/:id`), or `unmatched` for a 404; never the raw path. */
  route: string;
  statusCode: number;
  durationMs: number;
}

/** What the plugin reports to; the metrics adapter implements it and app.ts passes it in. */
export interface HttpMetricsRecorder {
  observe(sample: HttpRequestSample): void;
  inFlight(delta: 1 | -1): void;
}

/**
 * Request rate, errors, duration and in-flight count per route template. Register it first, so
 * that its onRequest hook runs before any hook that can refuse the request.
 *
 * Everything is recorded on the response's `close` event rather than in onResponse: Node emits
 * `close` exactly once for every response, finished or not, whereas onResponse runs only after
 * `finish` and onRequestAbort only for some disconnects, so a hook pair could count a request
 * twice or never and leave the in-flight gauge off for good.
 */
export function registerHttpMetrics(app: FastifyInstance, recorder: HttpMetricsRecorder): void {
  app.addHook('onRequest', async (request, reply) => measureRequest(request, reply, recorder));
}

/** Counts one request from now until its response closes (also for requests no hook sees). */
export function measureRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  recorder: HttpMetricsRecorder,
): void {
  const startedAt = performance.now();
  recorder.inFlight(1);
  reply.raw.once('close', () => {
    recorder.inFlight(-1);
    recorder.observe({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      statusCode: outcomeStatus(reply),
      durationMs: performance.now() - startedAt,
    });
  });
}
