import type { FastifyInstance } from 'fastify';
import { AppError } from '../../domain/errors.js';

const ANSWERED = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Fastify answers an unknown method on a known path with 404; the contract wants 405 with Allow.
 * Routes are recorded as they are added; `seal()` then claims every other method of each path.
 */
export function registerMethodNotAllowed(app: FastifyInstance): { seal(): void } {
  const methodsByUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const known = methodsByUrl.get(route.url) ?? new Set<string>();
    for (const method of methods) known.add(method);
    methodsByUrl.set(route.url, known);
  });
  return {
    seal() {
      const snapshot = [...methodsByUrl.entries()].filter(([url]) => !url.includes('*'));
      for (const [url, known] of snapshot) {
        const missing = ANSWERED.filter((method) => !known.has(method));
        if (missing.length === 0 || known.size === 0) continue;
        const allow = [...known]
          .filter((method) => method !== 'OPTIONS')
          .sort()
          .join(', ');
        app.route({
          method: missing,
          url,
          handler: async () => {
            throw new AppError('METHOD_NOT_ALLOWED', { headers: { allow } });
          },
        });
      }
    },
  };
}
