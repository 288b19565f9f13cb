import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import type { ModelProvider, Storage } from './domain/ports.js';
import { AuthService } from './domain/services/auth-service.js';
import { CompletionService } from './domain/services/completion-service.js';
import { HealthService } from './domain/services/health-service.js';
import { ModelService } from './domain/services/model-service.js';
import { loadOpenApiDocument } from './http/openapi/document.js';
import { buildHttpServer } from './http/server.js';
import { createLocalProvider } from './providers/local/index.js';
import { openPgliteStorage, openPostgresStorage } from './storage/index.js';

export interface App {
  http: FastifyInstance;
  storage: Storage;
  /** Stops accepting, lets in-flight requests and streams finish, then closes providers and pools. */
  close(): Promise<void>;
}

async function openStorage(config: Config, logger: Logger): Promise<Storage> {
  const db = config.database;
  if (db.kind === 'postgres') {
    return openPostgresStorage({
      url: db.url,
      poolSize: db.poolSize,
      connectionTimeoutMs: db.connectionTimeoutMs,
      statementTimeoutMs: db.statementTimeoutMs,
      logger: logger.child({ component: 'storage' }),
    });
  }
  return openPgliteStorage({ dataDir: db.dataDir, logger: logger.child({ component: 'storage' }) });
}

/** The one place that picks implementations from the validated config. */
export async function buildApp(config: Config, logger: Logger): Promise<App> {
  const document = loadOpenApiDocument();
  const storage = await openStorage(config, logger);
  const providers: ModelProvider[] = [
    createLocalProvider({
      workers: config.localModel.workers,
      logger: logger.child({ component: 'local-model' }),
    }),
  ];
  try {
    const models = new ModelService(providers);
    const services = {
      auth: new AuthService(config.adminApiKey ? { adminApiKey: config.adminApiKey } : {}),
      models,
      completions: new CompletionService(models, storage.usage, logger),
      health: new HealthService([{ name: 'database', check: () => storage.ping() }]),
    };
    const http = await buildHttpServer(services, {
      logger,
      document,
      corsOrigins: config.http.corsOrigins,
      bodyLimitBytes: config.http.bodyLimitBytes,
      requestTimeoutMs: config.http.requestTimeoutMs,
      connectionTimeoutMs: config.http.connectionTimeoutMs,
      keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      ...(config.http.tls ? { tls: config.http.tls } : {}),
    });
    http.addHook('onClose', async () => {
      await Promise.all(providers.map((provider) => provider.close()));
      await storage.close();
    });
    return { http, storage, close: () => http.close() };
  } catch (error) {
    await Promise.all(providers.map((provider) => provider.close()));
    await storage.close();
    throw error;
  }
}
