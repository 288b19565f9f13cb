import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import type { LoginThrottle, RevocationList } from './domain/identity/ports.js';
import type { ApiKeySecrets } from './domain/identity/secrets.js';
import type { ModelProvider, Storage } from './domain/ports.js';
import { ApiKeyService } from './domain/services/api-key-service.js';
import { AuthService } from './domain/services/auth-service.js';
import { CompletionService } from './domain/services/completion-service.js';
import { HealthService, type ReadinessCheck } from './domain/services/health-service.js';
import { IdempotencyService } from './domain/services/idempotency-service.js';
import { ModelService } from './domain/services/model-service.js';
import { OrganizationService } from './domain/services/organization-service.js';
import { SessionService } from './domain/services/session-service.js';
import { UsageService } from './domain/services/usage-service.js';
import { UserService } from './domain/services/user-service.js';
import { loadOpenApiDocument } from './http/openapi/document.js';
import { buildHttpServer } from './http/server.js';
import { createLocalProvider } from './providers/local/index.js';
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
import { closeRedis, createRedisClient, pingRedis } from './security/redis-client.js';
import { RedisLoginThrottle } from './security/redis-login-throttle.js';
import { RedisRevocationList } from './security/redis-revocation-list.js';
import { openPgliteStorage, openPostgresStorage } from './storage/index.js';

export interface App {
  http: FastifyInstance;
  storage: Storage;
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
): { revocations: RevocationList; throttle: LoginThrottle } {
  if (!redis) return { revocations: storage.revocations, throttle: new MemoryLoginThrottle() };
  return { revocations: new RedisRevocationList(redis), throttle: new RedisLoginThrottle(redis) };
}

/** The one place that picks implementations from the validated config. */
export async function buildApp(config: Config, logger: Logger): Promise<App> {
  const document = loadOpenApiDocument();
  const storage = await openStorage(config, logger);
  const redis = config.redis
    ? createRedisClient({
        url: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        logger: logger.child({ component: 'redis' }),
      })
    : undefined;
  const providers: ModelProvider[] = [];
  const closeAll = async () => {
    await Promise.all(providers.map((provider) => provider.close()));
    if (redis) await closeRedis(redis);
    await storage.close();
  };
  try {
    providers.push(
      createLocalProvider({
        workers: config.localModel.workers,
        logger: logger.child({ component: 'local-model' }),
      }),
    );
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
    const { revocations, throttle } = sharedState(storage, redis);
    const store = storage.identity;
    const auth = new AuthService({
      store,
      tokens,
      passwords: { ...passwords, dummyVerify: async () => void (await dummyPasswordVerify()) },
      revocations,
      throttle,
      secrets: apiKeySecrets,
      logger,
      sessionTtlSeconds: config.sessionTtlSeconds,
    });
    await auth.bootstrapAdminKey(config.adminApiKey);
    const horizon = () => auth.revocationHorizon(new Date());
    const models = new ModelService(providers);
    const checks: ReadinessCheck[] = [{ name: 'database', check: () => storage.ping() }];
    if (redis) checks.push({ name: 'redis', check: () => pingRedis(redis) });
    const http = await buildHttpServer(
      {
        auth,
        models,
        completions: new CompletionService(models, storage.usage, logger),
        health: new HealthService(checks),
        organizations: new OrganizationService(store, cursors),
        users: new UserService(store, passwords, revocations, cursors, horizon),
        sessions: new SessionService(store, revocations, cursors, horizon),
        apiKeys: new ApiKeyService(store, apiKeySecrets, cursors, config.rateLimits),
        idempotency: new IdempotencyService(storage.idempotency),
        usage: new UsageService(storage.usage, cursors),
      },
      {
        logger,
        document,
        corsOrigins: config.http.corsOrigins,
        bodyLimitBytes: config.http.bodyLimitBytes,
        requestTimeoutMs: config.http.requestTimeoutMs,
        connectionTimeoutMs: config.http.connectionTimeoutMs,
        keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
        ...(config.http.tls ? { tls: config.http.tls } : {}),
      },
    );
    http.addHook('onClose', closeAll);
    return { http, storage, close: () => http.close() };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
