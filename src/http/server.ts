import Fastify, { LogController, type FastifyInstance, type FastifySchema } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { AppError } from '../domain/errors.js';
import type { RateLimitService } from '../domain/rate-limit/rate-limit-service.js';
import type { ApiKeyService } from '../domain/services/api-key-service.js';
import type { AuthService } from '../domain/services/auth-service.js';
import type { CompletionService } from '../domain/services/completion-service.js';
import type { EmbeddingService } from '../domain/inference/embedding-service.js';
import type { HealthService } from '../domain/services/health-service.js';
import type { IdempotencyService } from '../domain/services/idempotency-service.js';
import type { ModelService } from '../domain/services/model-service.js';
import type { OrganizationService } from '../domain/services/organization-service.js';
import type { SessionService } from '../domain/services/session-service.js';
import type { UsageService } from '../domain/services/usage-service.js';
import type { UserService } from '../domain/services/user-service.js';
import { errorHandler, sendError } from './errors.js';
import type { OpenApiDocument } from './openapi/document.js';
import { routeSchemasByOperation } from './openapi/route-schemas.js';
import { createValidatorCompiler } from './openapi/validator.js';
import { addressLimitHook, authenticationHook } from './plugins/authentication.js';
import { registerEtags } from './plugins/etag.js';
import { registerHttpMetrics, type HttpMetricsRecorder } from './plugins/http-metrics.js';
import { registerIdempotency } from './plugins/idempotency.js';
import { registerMethodNotAllowed } from './plugins/method-not-allowed.js';
import { registerRequestContext, requestIdFrom } from './plugins/request-context.js';
import { registerSecurity } from './plugins/security.js';
import { registerServerTiming } from './plugins/server-timing.js';
import { registerTracing, type HttpTracer } from './plugins/tracing.js';
import { registerHealthRoutes } from './routes/ops/health.js';
import { registerOpenApiRoutes } from './routes/ops/openapi.js';
import { registerApiKeyRoutes } from './routes/v1/api-keys.js';
import {
  registerJwksRoute,
  registerLogoutRoute,
  registerPublicAuthRoutes,
} from './routes/v1/auth.js';
import { registerInferenceRoutes } from './routes/v1/inference.js';
import { registerEmbeddingRoutes } from './routes/v1/embeddings.js';
import { registerOrganizationRoutes } from './routes/v1/organizations.js';
import { registerUsageRoutes } from './routes/v1/usage.js';
import { registerUserRoutes } from './routes/v1/users.js';
import { registerModelRoutes } from './routes/v1/models.js';

const MAX_PARAM_LENGTH = 16_384;

/**
 * A path that is not valid percent-encoded UTF-8 (`/v1/users/%E0%A4%A`), with its `%` signs made
 * literal. find-my-way would answer such a path itself, bypassing every hook (request id,
 * security headers, logs, metrics) and the error shape; read literally it goes through routing
 * like any other path and ends as a 404 or a failed parameter check.
 */
export function literalPercents(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  try {
    decodeURIComponent(path);
    return url;
  } catch {
    return path.replaceAll('%', '%25') + (queryAt === -1 ? '' : url.slice(queryAt));
  }
}

export interface HttpServices {
  auth: AuthService;
  models: ModelService;
  completions: CompletionService;
  embeddings: EmbeddingService;
  health: HealthService;
  organizations: OrganizationService;
  users: UserService;
  sessions: SessionService;
  apiKeys: ApiKeyService;
  idempotency: IdempotencyService;
  usage: UsageService;
  rateLimits: RateLimitService;
}

export interface HttpOptions {
  logger: PinoLogger;
  metrics?: HttpMetricsRecorder;
  /** Absent when tracing is off: no hook runs and no span is created. */
  tracer?: HttpTracer;
  document: OpenApiDocument;
  corsOrigins: string[];
  /**
   * Fastify's trustProxy: which hops' X-Forwarded-For is believed when deriving `request.ip`,
   * the address every per-address limit and the sign-in throttle are keyed on.
   */
  trustProxy: false | string[];
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
  tls?: { cert: Buffer; key: Buffer };
}

export async function buildHttpServer(
  services: HttpServices,
  options: HttpOptions,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    // Our own start/end lines replace Fastify's, with the contract's field names.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'request_id',
    }),
    genReqId: requestIdFrom,
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.connectionTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // Our own closing hook answers in the contract's error shape instead.
    return503OnClosing: false,
    // Beyond any request line Node accepts (16 KiB of headers), so find-my-way never answers a
    // long parameter itself: the route's schema judges it, after authentication, like any input.
    maxParamLength: MAX_PARAM_LENGTH,
    rewriteUrl: (raw) => literalPercents(raw.url ?? '/'),
    forceCloseConnections: 'idle',
    trustProxy: options.trustProxy,
    ...(options.tls ? { https: options.tls } : {}),
  }) as unknown as FastifyInstance;

  const schemas = routeSchemasByOperation(options.document.doc);
  const schemaOf = (operationId: string): FastifySchema => {
    const schema = schemas.get(operationId);
    if (!schema) throw new Error(`openapi.yaml has no operation ${operationId}`);
    return schema;
  };
  app.setValidatorCompiler(createValidatorCompiler(options.document.doc));
  app.setErrorHandler(errorHandler);
  // Only JSON bodies are accepted; any other media type is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');

  // First, so that every response is counted, shutdown refusals included.
  if (options.metrics) registerHttpMetrics(app, options.metrics);
  // Before every other hook, so that their log lines carry the trace id.
  if (options.tracer) registerTracing(app, options.tracer);

  registerRequestContext(app);
  await registerSecurity(app, options.corsOrigins);

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onResponse', async () => {
    // A keep-alive connection that finishes its last response while we drain would otherwise
    // hold server.close() open until the client lets go of it.
    if (closing) setImmediate(() => app.server.closeIdleConnections());
  });
  // After the request id and security headers: a refusal while draining carries them too.
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw new AppError('OVERLOADED', {
        message: 'Server is shutting down; retry on another instance',
        headers: { 'retry-after': '1' },
      });
    }
  });
  registerEtags(app);
  registerServerTiming(app);
  const methods = registerMethodNotAllowed(app);

  app.setNotFoundHandler(async (request, reply) =>
    sendError(request, reply, new AppError('NOT_FOUND', { message: 'No such route' })),
  );

  registerHealthRoutes(app, services.health, schemaOf);
  await registerOpenApiRoutes(app, options.document, schemaOf);
  registerJwksRoute(app, services.auth, schemaOf);
  await app.register(
    async (v1public) => {
      v1public.addHook('onRequest', addressLimitHook(services.rateLimits));
      registerPublicAuthRoutes(v1public, services.auth, schemaOf);
    },
    { prefix: '/v1' },
  );
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', authenticationHook(services.auth, services.rateLimits));
      registerIdempotency(v1, services.idempotency);
      registerLogoutRoute(v1, services.auth, schemaOf);
      registerModelRoutes(v1, services.models, schemaOf);
      registerInferenceRoutes(v1, services.completions, schemaOf);
      registerEmbeddingRoutes(v1, services.embeddings, schemaOf);
      registerOrganizationRoutes(v1, services.organizations, schemaOf);
      registerUserRoutes(v1, services.users, services.sessions, schemaOf);
      registerApiKeyRoutes(v1, services.apiKeys, schemaOf);
      registerUsageRoutes(v1, services.usage, schemaOf);
    },
    { prefix: '/v1' },
  );
  await app.after();
  methods.seal();
  return app;
}
