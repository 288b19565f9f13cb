import type { FastifyInstance, FastifySchema } from 'fastify';
import type { HealthService } from '../../../domain/services/health-service.js';

export function registerHealthRoutes(
  app: FastifyInstance,
  health: HealthService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  // Liveness answers from memory only: a slow database must not get the process restarted.
  app.get('/healthz', { schema: schemaOf('getHealth') }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', { schema: schemaOf('getReadiness') }, async (_request, reply) => {
    const report = await health.readiness();
    reply.header('cache-control', 'no-store');
    reply.code(report.ready ? 200 : 503);
    return { status: report.ready ? 'ok' : 'unavailable', checks: report.checks };
  });
}
