import { Counter, Histogram, type Registry } from 'prom-client';
import type { InferenceObserver } from '../domain/observability.js';
import { LabelLimit } from './label-limit.js';

export interface InferenceMetricsOptions {
  /** Distinct organization label values kept; later ones are counted as `other`. */
  maxOrganizations: number;
}

/** The label value for usage with no organization (the platform admin). */
export const NO_ORGANIZATION = 'none';

const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60];
const TOKENS_PER_SECOND_BUCKETS = [1, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 5000];
const UPSTREAM_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

const CACHE_RESULTS = ['hit', 'miss', 'bypass'] as const;
const RATE_LIMITS = ['requests', 'tokens', 'address', 'sign_in'] as const;
const SHED_REASONS = ['capacity', 'queue_timeout', 'event_loop_lag', 'memory'] as const;

/** The InferenceObserver the domain reports to, recorded as Prometheus series. */
export function createInferenceMetrics(
  registry: Registry,
  options: InferenceMetricsOptions,
): InferenceObserver {
  const registers = [registry];
  const organizations = new LabelLimit(options.maxOrganizations);
  const timeToFirstToken = new Histogram({
    name: 'inference_time_to_first_token_seconds',
    help: 'Time from the start of a generation to its first text (cache hits excluded)',
    labelNames: ['model'] as const,
    buckets: TTFT_BUCKETS,
    registers,
  });
  const tokensPerSecond = new Histogram({
    name: 'inference_tokens_per_second',
    help: 'Completion tokens over the whole generation time, per completed generation (cache hits excluded)',
    labelNames: ['model'] as const,
    buckets: TOKENS_PER_SECOND_BUCKETS,
    registers,
  });
  const promptTokens = new Counter({
    name: 'inference_prompt_tokens_total',
    help: `Prompt tokens, by model and organization (the first ${options.maxOrganizations} organizations seen, then "other")`,
    labelNames: ['model', 'organization'] as const,
    registers,
  });
  const completionTokens = new Counter({
    name: 'inference_completion_tokens_total',
    help: `Completion tokens, by model and organization (the first ${options.maxOrganizations} organizations seen, then "other")`,
    labelNames: ['model', 'organization'] as const,
    registers,
  });
  const requests = new Counter({
    name: 'inference_requests_total',
    help: 'Generations that ended, by outcome (completed, cancelled, failed)',
    labelNames: ['model', 'endpoint', 'outcome', 'stream'] as const,
    registers,
  });
  const upstreamDuration = new Histogram({
    name: 'upstream_request_duration_seconds',
    help: 'Duration of one attempt at one upstream target, by outcome',
    labelNames: ['provider', 'target', 'outcome'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'upstream_errors_total',
    help: 'Upstream attempts that failed (failed over or failed), by error code; client cancellations excluded',
    labelNames: ['provider', 'target', 'code'] as const,
    registers,
  });
  const fallbacks = new Counter({
    name: 'upstream_fallbacks_total',
    help: 'Times a generation moved on to another upstream target after one failed before output',
    labelNames: ['model'] as const,
    registers,
  });
  const cache = new Counter({
    name: 'response_cache_total',
    help: 'Response cache lookups: hit, miss, or bypass (not cacheable, or the client opted out)',
    labelNames: ['result'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: 'rate_limit_rejections_total',
    help: 'Requests refused with 429, by the limit that refused them',
    labelNames: ['limit'] as const,
    registers,
  });
  const shed = new Counter({
    name: 'load_shed_total',
    help: 'Generations refused with 503 by load shedding, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  // Series for every fixed label value exist from the start, so rate() and ratios see a zero
  // instead of no data before the first event.
  for (const result of CACHE_RESULTS) cache.inc({ result }, 0);
  for (const limit of RATE_LIMITS) rateLimited.inc({ limit }, 0);
  for (const reason of SHED_REASONS) shed.inc({ reason }, 0);

  return {
    generationFinished(event) {
      const { model } = event;
      const organization = organizations.value(event.organizationId ?? NO_ORGANIZATION);
      requests.inc({
        model,
        endpoint: event.endpoint,
        outcome: event.outcome,
        stream: String(event.stream),
      });
      cache.inc({ result: event.cache });
      promptTokens.inc({ model, organization }, event.promptTokens);
      completionTokens.inc({ model, organization }, event.completionTokens);
      // A replayed answer costs no model time; its zero would drag the latency figures down.
      if (event.cache === 'hit') return;
      if (event.timeToFirstTokenMs !== null) {
        timeToFirstToken.observe({ model }, event.timeToFirstTokenMs / 1000);
      }
      if (event.outcome === 'completed' && event.completionTokens > 0 && event.durationMs > 0) {
        tokensPerSecond.observe({ model }, event.completionTokens / (event.durationMs / 1000));
      }
    },
    upstreamAttempt(event) {
      const { provider, target } = event;
      upstreamDuration.observe(
        { provider, target, outcome: event.outcome },
        event.durationMs / 1000,
      );
      if (event.outcome === 'failed' || event.outcome === 'failed_over') {
        upstreamErrors.inc({ provider, target, code: event.errorCode ?? 'ENDED_EARLY' });
      }
      if (event.outcome === 'failed_over') fallbacks.inc({ model: event.model });
    },
    rateLimited(limit) {
      rateLimited.inc({ limit });
    },
    shed(reason) {
      shed.inc({ reason });
    },
  };
}
