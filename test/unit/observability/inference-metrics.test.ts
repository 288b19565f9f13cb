import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { InferenceObserver } from '../../../src/domain/observability.js';
import { createInferenceMetrics } from '../../../src/observability/inference-metrics.js';
import { samples, valueOf } from './series.js';

type Finished = Parameters<InferenceObserver['generationFinished']>[0];
type Attempt = Parameters<InferenceObserver['upstreamAttempt']>[0];

function setup(maxOrganizations = 1000): { registry: Registry; observer: InferenceObserver } {
  const registry = new Registry();
  return { registry, observer: createInferenceMetrics(registry, { maxOrganizations }) };
}

function finished(overrides: Partial<Finished> = {}): Finished {
  return {
    model: 'local-small',
    organizationId: 'org_1',
    endpoint: 'chat.completions',
    stream: true,
    outcome: 'completed',
    cache: 'miss',
    promptTokens: 10,
    completionTokens: 40,
    timeToFirstTokenMs: 250,
    durationMs: 2000,
    ...overrides,
  };
}

function attempt(overrides: Partial<Attempt> = {}): Attempt {
  return {
    provider: 'openai',
    target: 'gpt-4o-2024-08-06',
    model: 'gpt-4o',
    outcome: 'completed',
    fallback: false,
    durationMs: 1500,
    ...overrides,
  };
}

describe('inference metrics', () => {
  it('records a finished generation as requests, tokens, cache result, TTFT and tokens/s', async () => {
    const { registry, observer } = setup();
    observer.generationFinished(finished());

    const labels = { model: 'local-small', organization: 'org_1' };
    expect(await valueOf(registry, 'inference_prompt_tokens_total', labels)).toBe(10);
    expect(await valueOf(registry, 'inference_completion_tokens_total', labels)).toBe(40);
    expect(
      await valueOf(registry, 'inference_requests_total', {
        model: 'local-small',
        endpoint: 'chat.completions',
        outcome: 'completed',
        stream: 'true',
      }),
    ).toBe(1);
    expect(await valueOf(registry, 'response_cache_total', { result: 'miss' })).toBe(1);
    const ttft = { model: 'local-small' };
    expect(await valueOf(registry, 'inference_time_to_first_token_seconds', ttft, '_sum')).toBe(
      0.25,
    );
    // 40 tokens in 2 s.
    expect(await valueOf(registry, 'inference_tokens_per_second', ttft, '_sum')).toBe(20);
  });

  it('keeps cache hits out of the latency and speed histograms, but counts their tokens', async () => {
    const { registry, observer } = setup();
    observer.generationFinished(finished({ cache: 'hit', timeToFirstTokenMs: 0, durationMs: 0 }));

    expect(await valueOf(registry, 'response_cache_total', { result: 'hit' })).toBe(1);
    expect(
      await valueOf(registry, 'inference_completion_tokens_total', { model: 'local-small' }),
    ).toBe(40);
    expect(await samples(registry, 'inference_time_to_first_token_seconds', '_count')).toEqual([]);
    expect(await samples(registry, 'inference_tokens_per_second', '_count')).toEqual([]);
  });

  it('measures speed only for completed generations and TTFT only when text came', async () => {
    const { registry, observer } = setup();
    observer.generationFinished(finished({ outcome: 'cancelled' }));
    observer.generationFinished(finished({ outcome: 'failed', timeToFirstTokenMs: null }));

    const model = { model: 'local-small' };
    expect(await valueOf(registry, 'inference_time_to_first_token_seconds', model, '_count')).toBe(
      1,
    );
    expect(await samples(registry, 'inference_tokens_per_second', '_count')).toEqual([]);
  });

  it('labels usage without an organization "none" and caps distinct organizations', async () => {
    const { registry, observer } = setup(2);
    for (const organizationId of [null, 'org_a', 'org_b', 'org_c']) {
      observer.generationFinished(finished({ organizationId }));
    }

    const organizations = (await samples(registry, 'inference_prompt_tokens_total')).map(
      (s) => s.labels.organization,
    );
    // `none` took one of the two places, org_a the other; org_b and org_c share `other`.
    expect(organizations.sort()).toEqual(['none', 'org_a', 'other']);
    expect(
      await valueOf(registry, 'inference_prompt_tokens_total', { organization: 'other' }),
    ).toBe(20);
  });

  it('records each upstream attempt, and errors and fallbacks only for real failures', async () => {
    const { registry, observer } = setup();
    observer.upstreamAttempt(
      attempt({ outcome: 'failed_over', errorCode: 'UPSTREAM_TIMEOUT', durationMs: 500 }),
    );
    observer.upstreamAttempt(attempt({ provider: 'anthropic', target: 'claude', fallback: true }));
    observer.upstreamAttempt(attempt({ outcome: 'failed', errorCode: 'UPSTREAM_ERROR' }));
    observer.upstreamAttempt(attempt({ outcome: 'failed' }));
    // A client that left is not the upstream's fault.
    observer.upstreamAttempt(attempt({ outcome: 'cancelled', errorCode: 'INTERNAL_ERROR' }));

    const target = { provider: 'openai', target: 'gpt-4o-2024-08-06' };
    expect(
      await valueOf(
        registry,
        'upstream_request_duration_seconds',
        { ...target, outcome: 'failed_over' },
        '_sum',
      ),
    ).toBe(0.5);
    expect(
      await valueOf(
        registry,
        'upstream_request_duration_seconds',
        { provider: 'anthropic', outcome: 'completed' },
        '_count',
      ),
    ).toBe(1);
    expect(
      (await samples(registry, 'upstream_errors_total')).map((s) => [s.labels.code, s.value]),
    ).toEqual([
      ['UPSTREAM_TIMEOUT', 1],
      ['UPSTREAM_ERROR', 1],
      ['ENDED_EARLY', 1],
    ]);
    expect(await samples(registry, 'upstream_fallbacks_total')).toEqual([
      { labels: { model: 'gpt-4o' }, value: 1 },
    ]);
  });

  it('counts rate-limit rejections and shed load, with every reason present from the start', async () => {
    const { registry, observer } = setup();
    observer.rateLimited('tokens');
    observer.rateLimited('tokens');
    observer.shed('queue_timeout');

    expect(await samples(registry, 'rate_limit_rejections_total')).toEqual([
      { labels: { limit: 'requests' }, value: 0 },
      { labels: { limit: 'tokens' }, value: 2 },
      { labels: { limit: 'address' }, value: 0 },
      { labels: { limit: 'sign_in' }, value: 0 },
    ]);
    expect(await valueOf(registry, 'load_shed_total', { reason: 'queue_timeout' })).toBe(1);
    expect(await valueOf(registry, 'load_shed_total', { reason: 'capacity' })).toBe(0);
    expect(await valueOf(registry, 'response_cache_total', { result: 'bypass' })).toBe(0);
  });
});
