import { ConfigError, loadConfig } from './config/index.js';
import { buildApp } from './app.js';
import { buildHttpsRedirectServer } from './http/https-redirect.js';
import { createLogger } from './logger.js';
import { startMetricsServer } from './observability/metrics-server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const app = await buildApp(config, logger);
  // METRICS_ENABLED=false: no listener at all (and nothing recorded, see buildApp).
  const metricsServer = config.metrics.enabled
    ? await startMetricsServer({
        host: config.metrics.host,
        port: config.metrics.port,
        registry: app.metrics.registry,
        logger,
      })
    : undefined;
  if (!config.adminApiKey) {
    logger.warn({}, 'ADMIN_API_KEY is not set: no credential can call /v1 until it is');
  }

  const redirectServer =
    config.http.redirectPort === undefined
      ? undefined
      : await buildHttpsRedirectServer({
          logger: logger.child({ component: 'https-redirect' }),
          httpsPort: config.http.port,
          requestTimeoutMs: config.http.requestTimeoutMs,
          connectionTimeoutMs: config.http.connectionTimeoutMs,
          keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
        });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const deadline = setTimeout(() => {
      logger.error({ timeout_ms: config.shutdownTimeoutMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // Metrics stay scrapeable while requests drain.
    // The redirect listener goes first: a client it sends on would be refused by the draining API.
    Promise.resolve(redirectServer?.close())
      .then(() => app.close())
      .then(() => metricsServer?.close())
      .then(
        () => {
          logger.info({}, 'shutdown complete');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const address = await app.http.listen({ host: config.http.host, port: config.http.port });
  const redirect = redirectServer
    ? await redirectServer.listen({ host: config.http.host, port: config.http.redirectPort })
    : 'off';
  logger.info(
    { address, redirect, metrics: metricsServer?.address ?? 'off', storage: app.storage.kind },
    'listening',
  );
}

main().catch((error: unknown) => {
  // Startup failures (database unreachable, port taken) end the process with a readable reason.
  process.stderr.write(
    `startup failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
