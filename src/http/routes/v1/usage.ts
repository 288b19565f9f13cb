import type { FastifyInstance, FastifySchema } from 'fastify';
import type { UsageService } from '../../../domain/services/usage-service.js';
import { principalOf } from '../../plugins/authentication.js';
import { listBody } from './presenters.js';

interface UsageQuerystring {
  start_date?: string;
  end_date?: string;
  model?: string;
  limit: number;
  cursor?: string;
}

export function registerUsageRoutes(
  app: FastifyInstance,
  usage: UsageService,
  schemaOf: (operationId: string) => FastifySchema,
): void {
  app.get<{ Querystring: UsageQuerystring }>(
    '/usage',
    { schema: schemaOf('getUsage') },
    async (request) => {
      const q = request.query;
      const result = await usage.summarize(principalOf(request), {
        limit: q.limit,
        ...(q.start_date === undefined ? {} : { startDate: q.start_date }),
        ...(q.end_date === undefined ? {} : { endDate: q.end_date }),
        ...(q.model === undefined ? {} : { model: q.model }),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      return listBody(result, (bucket) => ({
        date: bucket.date,
        model: bucket.model,
        requests: bucket.requests,
        prompt_tokens: bucket.promptTokens,
        completion_tokens: bucket.completionTokens,
        total_tokens: bucket.promptTokens + bucket.completionTokens,
      }));
    },
  );
}
