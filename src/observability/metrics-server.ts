import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../domain/logger.js';

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port; `address` reports the one bound. */
  port: number;
  registry: Registry;
  logger: Logger;
}

export interface MetricsServer {
  readonly address: { host: string; port: number };
  /** Stops listening and closes idle keep-alive connections; resolves once the server is closed. */
  close(): Promise<void>;
}

/**
 * `GET /metrics` on its own listener (METRICS_HOST:METRICS_PORT), apart from the public API: it is
 * meant for the internal network only, and it bypasses the API's authentication, rate limits and
 * load shedding, so scrapes keep working when the API is saturated, which is when they matter.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger } = options;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    try {
      const body = await registry.metrics();
      response.writeHead(200, {
        'content-type': registry.contentType,
        'cache-control': 'no-store',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch (error) {
      logger.error({ err: error }, 'metrics collection failed');
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Error\n');
    }
  };

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A fault of the metrics listener after start must not take the API process down with it.
  server.on('error', (error) => logger.warn({ err: error }, 'metrics server error'));
  const bound = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its connection open between scrapes; without this, close() waits.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
