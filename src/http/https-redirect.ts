import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { AppError } from '../domain/errors.js';
import { errorHandler } from './errors.js';
import { registerRequestContext, requestIdFrom } from './plugins/request-context.js';
import { registerSecurity } from './plugins/security.js';

export interface HttpsRedirectOptions {
  logger: PinoLogger;
  /** The HTTPS listener's port (PORT). */
  httpsPort: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

// A host name or IPv4 address, or a bracketed IPv6 address, and an optional port: nothing that
// could carry a path, credentials or a second host into the Location.
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/**
 * Where a plain-HTTP request should go. A Host without a port came in on the standard port, so
 * the client's HTTPS counterpart is the standard one too, however the ports are mapped behind
 * it; a Host with a port reached this listener directly, so it is sent to PORT.
 */
export function httpsLocation(
  host: string | undefined,
  url: string,
  httpsPort: number,
): string | undefined {
  const match = host === undefined ? null : HOST_HEADER.exec(host);
  if (!host || !match) return undefined;
  const name = match[1] === undefined ? host : host.slice(0, -(match[1].length + 1));
  const port = match[1] === undefined || httpsPort === 443 ? '' : `:${httpsPort}`;
  // Absolute-form request targets are not ours to forward anywhere; only the path is kept.
  const path = url.startsWith('/') ? url : '/';
  return `https://${name}${port}${path}`;
}

/**
 * The optional HTTP_REDIRECT_PORT listener: every request, whatever its method or path, gets a
 * 308 (method and body kept) to the same URL over HTTPS. It answers from `onRequest`, before any
 * body is read, with the request id and security headers of the main listener.
 */
export async function buildHttpsRedirectServer(
  options: HttpsRedirectOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'request_id',
    }),
    genReqId: requestIdFrom,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.connectionTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Nothing here is worth waiting for on shutdown.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  app.setErrorHandler(errorHandler);
  registerRequestContext(app);
  // No CORS origins: a browser has no reason to read a redirect across origins.
  await registerSecurity(app, []);
  app.addHook('onRequest', async (request, reply) => {
    const location = httpsLocation(request.headers.host, request.url, options.httpsPort);
    if (location === undefined) {
      throw new AppError('VALIDATION_ERROR', {
        message: 'The Host header must name this server',
        param: 'Host',
      });
    }
    return reply.code(308).header('location', location).send();
  });
  return app;
}
