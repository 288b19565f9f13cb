import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import type { LoginThrottle, RevocationList } from './domain/identity/ports.js';
import {
  DEFAULT_ADDRESS_THROTTLE_POLICY,
  DEFAULT_LOGIN_THROTTLE_POLICY,
  type LoginThrottlePolicy,
} from './domain/identity/login-throttle-policy.js';
import type { ApiKeySecrets } from './domain/identity/secrets.js';
import type { ModelProvider, Storage } from './domain/ports.js';
import { ApiKeyService } from './domain/services/api-key-service.js';
import { AuthService } from './domain/services/auth-service.js';
import {
  CompletionService,
  type CompletionCacheSettings,
} from './domain/services/completion-service.js';
import { EmbeddingService } from './domain/inference/embedding-service.js';
import { MemoryResponseCache } from './storage/cache/memory-response-cache.js';
import { RedisResponseCache } from './storage/cache/redis-response-cache.js';
import { HealthService, type ReadinessCheck } from './domain/services/health-service.js';
import { IdempotencyService } from './domain/services/idempotency-service.js';
import { IdempotencyPurge } from './domain/identity/idempotency-purge.js';
import { ModelService } from './domain/services/model-service.js';
import { GenerationGate } from './domain/load/generation-gate.js';
import type { RateLimitStore } from './domain/rate-limit/ports.js';
import { RateLimitService } from './domain/rate-limit/rate-limit-service.js';
import { OverloadMonitor } from './runtime/overload-monitor.js';
import { FailoverRateLimitStore } from './storage/rate-limit/failover-rate-limit-store.js';
import { MemoryRateLimitStore } from './storage/rate-limit/memory-rate-limit-store.js';
import { RedisRateLimitStore } from './storage/rate-limit/redis-rate-limit-store.js';
import { OrganizationService } from './domain/services/organization-service.js';
import { SessionService } from './domain/services/session-service.js';
import { UsageService } from './domain/services/usage-service.js';
import { UserService } from './domain/services/user-service.js';
import { UsageRecorder } from './domain/usage/usage-recorder.js';
import { UsageRetention } from './domain/usage/usage-retention.js';
import { loadOpenApiDocument } from './http/openapi/document.js';
import { buildHttpServer } from './http/server.js';
import type { ModelsFile } from './config/models-file.js';
import { withBuiltInRoutes } from './domain/routing/built-in-routes.js';
import { ModelRouter } from './domain/routing/model-router.js';
import { createAnthropicProvider } from './providers/anthropic/index.js';
import { createLocalProvider } from './providers/local/index.js';
import { localModelSettings } from './config/local-models.js';
import { createOpenAICompatibleProvider } from './providers/openai-compatible/index.js';
import type { UpstreamModelProvider } from './providers/shared/upstream-runtime.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { silentTracing } from './domain/observability.js';
import { createMetrics, disabledMetrics, type Metrics } from './observability/metrics-registry.js';
import { createTracing } from './observability/tracing.js';
import { createAccessTokens } from './security/access-tokens.js';
import {
  generateApiKeySecret,
  hashSecret,
  prefixOf,
  secretMatches,
} from './security/api-key-secret.js';
import { createCursorCodec } from './security/cursors.js';
import { MemoryLoginThrottle } from './security/memory-login-throttle.js';
import { createPasswordHasher, dummyPasswordVerify } from './security/passwords.js';
import { closeRedis, createRedisClient, pingRedis } from './storage/redis/redis-client.js';
import { RedisLoginThrottle } from './storage/redis/redis-login-throttle.js';
import { RedisRevocationList } from './storage/redis/redis-revocation-list.js';
import { FailoverRevocationList } from './security/failover-revocation-list.js';
import { FailoverLoginThrottle } from './security/shared-state-failover.js';
import { openPgliteStorage, openPostgresStorage } from './storage/index.js';

export interface App {
  http: FastifyInstance;
  storage: Storage;
  /**
   * Prometheus registry and recorders; main.ts serves it on METRICS_PORT. With
   * METRICS_ENABLED=false every recorder is a no-op and the registry stays empty.
   */
  metrics: Metrics;
  /** Writes buffered usage records now (they are otherwise written in batches). */
  flushUsage(): Promise<void>;
  /** Stops accepting, lets in-flight requests and streams finish, then closes providers and pools. */
  close(): Promise<void>;
}

async function openStorage(config: Config, logger: Logger): Promise<Storage> {
  const db = config.database;
  const storageLogger = logger.child({ component: 'storage' });
  if (db.kind === 'postgres') {
    return openPostgresStorage({
      url: db.url,
      poolSize: db.poolSize,
      connectionTimeoutMs: db.connectionTimeoutMs,
      statementTimeoutMs: db.statementTimeoutMs,
      logger: storageLogger,
    });
  }
  return openPgliteStorage({ dataDir: db.dataDir, logger: storageLogger });
}

const apiKeySecrets: ApiKeySecrets = {
  generate: generateApiKeySecret,
  prefixOf,
  hash: hashSecret,
  matches: secretMatches,
};

/**
 * Instances that share a signing key (JWT_PRIVATE_KEY_FILE) must also accept each other's
 * cursors; deriving the cursor key from it means one secret to distribute, not two.
 */
function deriveSecret(keyMaterial: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyMaterial, 'inference-api', purpose, 32));
}

/** Shared state lives in Redis when configured; otherwise in the database and this process. */
function sharedState(
  storage: Storage,
  redis: Redis | undefined,
  logger: Logger,
): { revocations: RevocationList; throttle: LoginThrottle; addressThrottle: LoginThrottle } {
  const throttleWith = (policy: LoginThrottlePolicy, what: string): LoginThrottle =>
    redis
      ? new FailoverLoginThrottle(
          new RedisLoginThrottle(redis, { policy }),
          new MemoryLoginThrottle({ policy }),
          logger,
          what,
        )
      : new MemoryLoginThrottle({ policy });
  return {
    revocations: redis
      ? new FailoverRevocationList(
          new RedisRevocationList(redis),
          storage.revocations,
          storage.revocationBacklog,
          logger,
        )
      : storage.revocations,
    throttle: throttleWith(DEFAULT_LOGIN_THROTTLE_POLICY, 'sign-in throttle'),
    addressThrottle: throttleWith(DEFAULT_ADDRESS_THROTTLE_POLICY, 'sign-in address throttle'),
  };
}

/**
 * Limits are shared through Redis when it is configured; while Redis is unreachable each instance
 * enforces its share (limit / RATE_LIMIT_FALLBACK_INSTANCES) from memory, and returns to Redis
 * on its own.
 */
function rateLimitStore(
  config: Config,
  redis: Redis | undefined,
  logger: Logger,
  closers: (() => Promise<void>)[],
  metrics: Metrics,
): RateLimitStore {
  const memory = new MemoryRateLimitStore();
  closers.push(async () => memory.close());
  if (!redis) {
    metrics.setRateLimitStoreMode('local');
    return memory;
  }
  metrics.setRateLimitStoreMode('shared');
  return new FailoverRateLimitStore(new RedisRateLimitStore(redis), memory, {
    instanceCount: config.rateLimits.fallbackInstances,
    logger: logger.child({ component: 'rate-limit' }),
    onModeChange: (mode) => metrics.setRateLimitStoreMode(mode),
  });
}

function responseCache(
  config: Config,
  redis: Redis | undefined,
  logger: Logger,
): CompletionCacheSettings | undefined {
  if (config.responseCacheTtlSeconds === 0) return undefined;
  const store = redis
    ? new RedisResponseCache(redis, logger.child({ component: 'response-cache' }))
    : new MemoryResponseCache();
  return { store, ttlSeconds: config.responseCacheTtlSeconds };
}

/** The upstreams configured now: OPENAI_*, ANTHROPIC_* and the providers of MODELS_FILE. */
function upstreamProviders(
  config: Config,
  modelsFile: ModelsFile | undefined,
  logger: Logger,
): Map<string, UpstreamModelProvider> {
  const map = new Map<string, UpstreamModelProvider>();
  const add = (
    name: string,
    type: 'openai-compatible' | 'anthropic',
    baseUrl: string,
    apiKey?: string,
  ) => {
    const common = {
      name,
      baseUrl,
      logger: logger.child({ component: 'upstream', provider: name }),
    };
    map.set(
      name,
      type === 'anthropic'
        ? createAnthropicProvider({ ...common, apiKey: apiKey ?? '' })
        : createOpenAICompatibleProvider({ ...common, ...(apiKey ? { apiKey } : {}) }),
    );
  };
  const { openai, anthropic } = config.upstreams;
  if (openai) add('openai', 'openai-compatible', openai.baseUrl, openai.apiKey);
  if (anthropic) add('anthropic', 'anthropic', anthropic.baseUrl, anthropic.apiKey);
  for (const provider of modelsFile?.providers ?? []) {
    add(provider.name, provider.type, provider.baseUrl, provider.apiKey);
  }
  return map;
}

/** What tests inject instead of configuring it. */
export interface AppOptions {
  /** Turns tracing on and hands every ended span to this exporter. */
  spanExporter?: SpanExporter;
}

/** The one place that picks implementations from the validated config. */
export async function buildApp(
  config: Config,
  logger: Logger,
  options: AppOptions = {},
): Promise<App> {
  const document = loadOpenApiDocument();
  const { modelsFile } = config;
  const routes = withBuiltInRoutes(modelsFile?.routes ?? []);
  // Before the database opens: a routing table that names a model without a file is a setting
  // error, reported without running migrations first.
  const localModels = localModelSettings(config, modelsFile, routes);
  const storage = await openStorage(config, logger);
  const redis = config.redis
    ? createRedisClient({
        url: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        logger: logger.child({ component: 'redis' }),
      })
    : undefined;
  const providers: ModelProvider[] = [];
  const closers: (() => Promise<void>)[] = [];
  const metrics = config.metrics.enabled
    ? createMetrics({ redisCommands: redis !== undefined })
    : disabledMetrics();
  closers.push(async () => metrics.close());
  const tracing = createTracing({
    ...(config.tracing.otlpEndpoint ? { otlpEndpoint: config.tracing.otlpEndpoint } : {}),
    ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
    sampler: config.tracing.sampler,
  });
  // Closers run once the server has drained: the last requests' spans are exported too.
  if (tracing) closers.push(() => tracing.close());
  const closeAll = async () => {
    await Promise.all(providers.map((provider) => provider.close()));
    for (const close of closers) await close();
    if (redis) await closeRedis(redis);
    await storage.close();
  };
  try {
    const upstreams = upstreamProviders(config, modelsFile, logger);
    const providerMap = new Map<string, ModelProvider>(upstreams);
    providers.push(...providerMap.values());
    const local = await createLocalProvider({
      models: localModels,
      logger: logger.child({ component: 'local-model' }),
    });
    providerMap.set('local', local);
    providers.push(local);
    const router = new ModelRouter({
      routes,
      providers: providerMap,
      tracing: tracing?.tracing ?? silentTracing,
    });
    const tokens = await createAccessTokens({
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      dataDir: config.dataDir,
      ...(config.jwt.privateKeyFile ? { privateKeyFile: config.jwt.privateKeyFile } : {}),
    });
    const cursors = await createCursorCodec(
      config.jwt.privateKeyFile
        ? { secret: deriveSecret(await readFile(config.jwt.privateKeyFile), 'list cursors') }
        : { dataDir: config.dataDir },
    );
    const passwords = createPasswordHasher();
    const { revocations, throttle, addressThrottle } = sharedState(storage, redis, logger);
    const store = storage.identity;
    const auth = new AuthService({
      store,
      tokens,
      passwords: { ...passwords, dummyVerify: async () => void (await dummyPasswordVerify()) },
      revocations,
      throttle,
      addressThrottle,
      secrets: apiKeySecrets,
      logger,
      sessionTtlSeconds: config.sessionTtlSeconds,
      observer: metrics.inference,
    });
    await auth.bootstrapAdminKey(config.adminApiKey);
    const horizon = () => auth.revocationHorizon(new Date());
    const models = new ModelService(router, cursors);
    const usageRecorder = new UsageRecorder(storage.usage, logger.child({ component: 'usage' }));
    // Runs after the HTTP server has drained, before the database closes: nothing is lost on SIGTERM.
    closers.push(() => usageRecorder.close());
    if (config.usageRetentionDays !== undefined) {
      const retention = new UsageRetention(storage.usage, logger.child({ component: 'usage' }), {
        olderThanDays: config.usageRetentionDays,
      });
      retention.start();
      closers.push(() => retention.stop());
    }
    const idempotencyPurge = new IdempotencyPurge(
      storage.idempotency,
      logger.child({ component: 'idempotency' }),
    );
    idempotencyPurge.start();
    closers.push(() => idempotencyPurge.stop());
    const rateLimits = new RateLimitService(
      rateLimitStore(config, redis, logger, closers, metrics),
      {
        enabled: config.rateLimits.enabled,
        defaults: {
          requestsPerMinute: config.rateLimits.requestsPerMinute,
          tokensPerMinute: config.rateLimits.tokensPerMinute,
        },
        organizationMultiplier: config.rateLimits.organizationMultiplier,
        addressRequestsPerMinute: config.rateLimits.addressRequestsPerMinute,
      },
      metrics.inference,
    );
    const overload = new OverloadMonitor({
      eventLoopLagLimitMs: config.load.eventLoopLagLimitMs,
      heapUsedRatioLimit: config.load.heapUsedRatioLimit,
    });
    closers.push(async () => overload.stop());
    const onShed = (reason: Parameters<typeof metrics.inference.shed>[0]) =>
      metrics.inference.shed(reason);
    const gates = {
      local: new GenerationGate({
        maxConcurrent: config.load.maxConcurrentGenerations,
        maxQueued: config.load.maxQueuedGenerations,
        queueTimeoutMs: config.load.queueTimeoutMs,
        overload,
        onShed,
      }),
      upstream: new GenerationGate({
        maxConcurrent: config.load.maxConcurrentUpstreamStreams,
        maxQueued: config.load.maxQueuedUpstreamStreams,
        queueTimeoutMs: config.load.queueTimeoutMs,
        overload,
        onShed,
      }),
    };
    metrics.watch({
      generationGate: () => gates.local.stats(),
      upstreamGate: () => gates.upstream.stats(),
      eventLoopLagMs: () => overload.eventLoopLagMs(),
      circuitStates: () =>
        [...upstreams].flatMap(([provider, upstream]) =>
          Object.entries(upstream.circuitStates()).map(([target, state]) => ({
            provider,
            target,
            state,
          })),
        ),
      ...(storage.poolStats ? { databasePool: storage.poolStats } : {}),
    });
    const checks: ReadinessCheck[] = [{ name: 'database', check: () => storage.ping() }];
    if (redis) checks.push({ name: 'redis', check: () => pingRedis(redis) });
    const http = await buildHttpServer(
      {
        auth,
        models,
        completions: new CompletionService({
          router,
          usage: usageRecorder,
          limits: rateLimits,
          gates,
          logger,
          cache: responseCache(config, redis, logger),
          observer: metrics.inference,
          tracing: tracing?.tracing ?? silentTracing,
        }),
        embeddings: new EmbeddingService({
          router,
          usage: usageRecorder,
          limits: rateLimits,
          gates,
          logger,
          observer: metrics.inference,
        }),
        health: new HealthService(checks),
        organizations: new OrganizationService(store, cursors),
        users: new UserService(store, passwords, revocations, cursors, horizon),
        sessions: new SessionService(store, revocations, cursors, horizon),
        apiKeys: new ApiKeyService(store, apiKeySecrets, cursors, config.rateLimits),
        idempotency: new IdempotencyService(storage.idempotency),
        usage: new UsageService(storage.usage, cursors),
        rateLimits,
      },
      {
        logger,
        document,
        // Off: the plugin is not registered, so no hook runs per request.
        ...(metrics.enabled ? { metrics: metrics.http } : {}),
        ...(tracing ? { tracer: tracing.http } : {}),
        corsOrigins: config.http.corsOrigins,
        trustProxy: config.http.trustProxy,
        bodyLimitBytes: config.http.bodyLimitBytes,
        requestTimeoutMs: config.http.requestTimeoutMs,
        connectionTimeoutMs: config.http.connectionTimeoutMs,
        keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
        ...(config.http.tls ? { tls: config.http.tls } : {}),
      },
    );
    http.addHook('onClose', closeAll);
    return {
      http,
      storage,
      metrics,
      flushUsage: () => usageRecorder.flush(),
      close: () => http.close(),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
