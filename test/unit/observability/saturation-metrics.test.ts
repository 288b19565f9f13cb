import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  createSaturationMetrics,
  type CircuitStateSample,
} from '../../../src/observability/saturation-metrics.js';
import { samples, valueOf } from './series.js';

function setup() {
  const registry = new Registry();
  return { registry, saturation: createSaturationMetrics(registry) };
}

describe('saturation metrics', () => {
  it('reads pool, gate and event-loop sources on every scrape', async () => {
    const { registry, saturation } = setup();
    let pool = { total: 5, idle: 2, waiting: 0 };
    let gate = { active: 3, queued: 0 };
    let lagMs = 12;
    saturation.watch({
      databasePool: () => pool,
      generationGate: () => gate,
      eventLoopLagMs: () => lagMs,
    });

    expect(await valueOf(registry, 'db_pool_connections', { state: 'in_use' })).toBe(3);
    expect(await valueOf(registry, 'db_pool_connections', { state: 'idle' })).toBe(2);
    expect(await valueOf(registry, 'db_pool_waiting_requests')).toBe(0);
    expect(await valueOf(registry, 'generation_gate_active')).toBe(3);
    expect(await valueOf(registry, 'overload_event_loop_lag_p99_seconds')).toBe(0.012);

    pool = { total: 10, idle: 0, waiting: 7 };
    gate = { active: 8, queued: 4 };
    lagMs = 250;
    expect(await valueOf(registry, 'db_pool_connections', { state: 'in_use' })).toBe(10);
    expect(await valueOf(registry, 'db_pool_waiting_requests')).toBe(7);
    expect(await valueOf(registry, 'generation_gate_queued')).toBe(4);
    expect(await valueOf(registry, 'overload_event_loop_lag_p99_seconds')).toBe(0.25);
  });

  it('reports the upstream stream gate apart from the local generation gate', async () => {
    const { registry, saturation } = setup();
    saturation.watch({
      generationGate: () => ({ active: 1, queued: 0 }),
      upstreamGate: () => ({ active: 300, queued: 7 }),
    });

    expect(await valueOf(registry, 'generation_gate_active')).toBe(1);
    expect(await valueOf(registry, 'upstream_gate_active')).toBe(300);
    expect(await valueOf(registry, 'upstream_gate_queued')).toBe(7);
  });

  it('reports nothing for a source that is not attached (no pool with embedded PGlite)', async () => {
    const { registry, saturation } = setup();
    saturation.watch({ generationGate: () => ({ active: 0, queued: 0 }) });

    expect(await samples(registry, 'db_pool_connections')).toEqual([]);
    expect(await valueOf(registry, 'generation_gate_queued')).toBe(0);
  });

  it('maps circuit states to 0 closed, 1 half-open, 2 open per provider and target', async () => {
    const { registry, saturation } = setup();
    const states: CircuitStateSample[] = [
      { provider: 'openai', target: 'gpt-4o', state: 'closed' },
      { provider: 'openai', target: 'gpt-4o-mini', state: 'open' },
      { provider: 'anthropic', target: 'claude', state: 'half-open' },
    ];
    saturation.watch({ circuitStates: () => states });

    expect(await samples(registry, 'upstream_circuit_state')).toEqual([
      { labels: { provider: 'openai', target: 'gpt-4o' }, value: 0 },
      { labels: { provider: 'openai', target: 'gpt-4o-mini' }, value: 2 },
      { labels: { provider: 'anthropic', target: 'claude' }, value: 1 },
    ]);
  });

  it('keeps scraping when one source throws', async () => {
    const { registry, saturation } = setup();
    saturation.watch({
      databasePool: () => {
        throw new Error('pool gone');
      },
      circuitStates: function* () {
        yield { provider: 'openai', target: 'gpt-4o', state: 'open' as const };
        throw new Error('broken iterator');
      },
      generationGate: () => ({ active: 1, queued: 2 }),
    });

    await expect(registry.metrics()).resolves.toContain('generation_gate_queued 2');
    expect(await samples(registry, 'db_pool_connections')).toEqual([]);
    expect(await samples(registry, 'upstream_circuit_state')).toEqual([]);
  });

  it('marks exactly one rate-limit store mode', async () => {
    const { registry, saturation } = setup();
    saturation.setRateLimitStoreMode('shared');
    saturation.setRateLimitStoreMode('fallback');

    expect(await samples(registry, 'rate_limit_store_mode')).toEqual([
      { labels: { mode: 'shared' }, value: 0 },
      { labels: { mode: 'fallback' }, value: 1 },
      { labels: { mode: 'local' }, value: 0 },
    ]);
  });
});
