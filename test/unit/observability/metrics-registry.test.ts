import { describe, expect, it } from 'vitest';
import { createMetrics, disabledMetrics } from '../../../src/observability/metrics-registry.js';
import { valueOf } from './series.js';

describe('createMetrics', () => {
  it('gives each app a registry of its own, with process metrics', async () => {
    const first = createMetrics();
    const second = createMetrics();
    try {
      first.inference.shed('capacity');

      expect(first.registry).not.toBe(second.registry);
      expect(await valueOf(first.registry, 'load_shed_total', { reason: 'capacity' })).toBe(1);
      expect(await valueOf(second.registry, 'load_shed_total', { reason: 'capacity' })).toBe(0);
      const text = await first.registry.metrics();
      for (const name of [
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_gc_duration_seconds',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
    } finally {
      first.close();
      second.close();
    }
  });

  it('caps organization labels at the configured number', async () => {
    const metrics = createMetrics({ processMetrics: false, maxOrganizationLabels: 1 });
    for (const organizationId of ['org_a', 'org_b']) {
      metrics.inference.generationFinished({
        model: 'm',
        organizationId,
        endpoint: 'completions',
        stream: false,
        outcome: 'completed',
        cache: 'bypass',
        promptTokens: 1,
        completionTokens: 1,
        timeToFirstTokenMs: 1,
        durationMs: 1,
      });
    }
    expect(
      await valueOf(metrics.registry, 'inference_prompt_tokens_total', { organization: 'other' }),
    ).toBe(1);
  });

  it('wires saturation sources and the rate-limit store mode into the registry', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.watch({ generationGate: () => ({ active: 2, queued: 5 }) });
    metrics.setRateLimitStoreMode('local');

    expect(await valueOf(metrics.registry, 'generation_gate_queued')).toBe(5);
    expect(await valueOf(metrics.registry, 'rate_limit_store_mode', { mode: 'local' })).toBe(1);
  });
});

describe('disabledMetrics', () => {
  it('records nothing and keeps its registry empty', async () => {
    const metrics = disabledMetrics();
    metrics.inference.shed('capacity');
    metrics.inference.rateLimited('requests');
    metrics.http.inFlight(1);
    metrics.http.observe({ method: 'GET', route: '/v1/models', statusCode: 200, durationMs: 1 });
    metrics.watch({ generationGate: () => ({ active: 1, queued: 2 }) });
    metrics.setRateLimitStoreMode('local');
    metrics.close();

    expect(metrics.enabled).toBe(false);
    expect(await metrics.registry.getMetricsAsJSON()).toEqual([]);
  });
});
