import { Gauge, type Registry } from 'prom-client';

export type CircuitStateName = 'closed' | 'half-open' | 'open';

export interface CircuitStateSample {
  provider: string;
  /** The upstream model name, from the routing table. */
  target: string;
  state: CircuitStateName;
}

/**
 * Where the saturation gauges read their values, once per scrape. Every source is optional: a
 * deployment without PostgreSQL has no pool, and a source may be attached after the others.
 */
export interface SaturationSources {
  /** pg.Pool: totalCount, idleCount, waitingCount. */
  databasePool: () => { total: number; idle: number; waiting: number };
  /** GenerationGate.stats() of the gate in front of local models. */
  generationGate: () => { active: number; queued: number };
  /** GenerationGate.stats() of the gate in front of proxied upstream streams. */
  upstreamGate: () => { active: number; queued: number };
  /** OverloadMonitor.eventLoopLagMs(): p99 delay over its last sample interval. */
  eventLoopLagMs: () => number;
  /** Every breaker seen so far, of every upstream provider. */
  circuitStates: () => Iterable<CircuitStateSample>;
}

/** How rate limits are enforced right now; see FailoverRateLimitStore. */
export type RateLimitStoreMode = 'shared' | 'fallback' | 'local';

export interface SaturationMetrics {
  /** Adds or replaces sources; gauges without a source report nothing. */
  watch(sources: Partial<SaturationSources>): void;
  setRateLimitStoreMode(mode: RateLimitStoreMode): void;
}

const CIRCUIT_VALUE: Record<CircuitStateName, number> = { closed: 0, 'half-open': 1, open: 2 };
const RATE_LIMIT_MODES: readonly RateLimitStoreMode[] = ['shared', 'fallback', 'local'];

/**
 * Reads a source for a scrape. A failing source leaves its gauge as it was rather than failing the
 * whole scrape: one broken callback must not blind every other signal.
 */
function read<T>(source: (() => T) | undefined): T | undefined {
  if (!source) return undefined;
  try {
    return source();
  } catch {
    return undefined;
  }
}

/** Gauges of how full the instance is, read from live objects when Prometheus scrapes. */
export function createSaturationMetrics(registry: Registry): SaturationMetrics {
  const registers = [registry];
  const sources: Partial<SaturationSources> = {};

  new Gauge({
    name: 'db_pool_connections',
    help: 'PostgreSQL pool connections, by state: in_use (checked out) or idle',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const pool = read(sources.databasePool);
      if (!pool) return;
      this.set({ state: 'in_use' }, pool.total - pool.idle);
      this.set({ state: 'idle' }, pool.idle);
    },
  });
  new Gauge({
    name: 'db_pool_waiting_requests',
    help: 'Queries waiting for a PostgreSQL pool connection',
    registers,
    collect() {
      const pool = read(sources.databasePool);
      if (pool) this.set(pool.waiting);
    },
  });
  new Gauge({
    name: 'generation_gate_active',
    help: 'Local generations holding a slot of the generation gate',
    registers,
    collect() {
      const gate = read(sources.generationGate);
      if (gate) this.set(gate.active);
    },
  });
  new Gauge({
    name: 'generation_gate_queued',
    help: 'Local generations waiting for a slot (load-shedding queue depth)',
    registers,
    collect() {
      const gate = read(sources.generationGate);
      if (gate) this.set(gate.queued);
    },
  });
  new Gauge({
    name: 'upstream_gate_active',
    help: 'Proxied upstream streams holding a slot of the upstream gate',
    registers,
    collect() {
      const gate = read(sources.upstreamGate);
      if (gate) this.set(gate.active);
    },
  });
  new Gauge({
    name: 'upstream_gate_queued',
    help: 'Proxied upstream streams waiting for a slot (load-shedding queue depth)',
    registers,
    collect() {
      const gate = read(sources.upstreamGate);
      if (gate) this.set(gate.queued);
    },
  });
  new Gauge({
    name: 'overload_event_loop_lag_p99_seconds',
    help: 'p99 event-loop delay over the last sample interval, as the load shedder sees it',
    registers,
    collect() {
      const lagMs = read(sources.eventLoopLagMs);
      if (lagMs !== undefined) this.set(lagMs / 1000);
    },
  });
  new Gauge({
    name: 'upstream_circuit_state',
    help: 'Circuit breaker per upstream target: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider', 'target'] as const,
    registers,
    collect() {
      const source = sources.circuitStates;
      // Materialized inside read(), so a lazy iterable that throws is caught there too.
      const states = read(source && (() => [...source()]));
      if (!states) return;
      for (const { provider, target, state } of states) {
        this.set({ provider, target }, CIRCUIT_VALUE[state]);
      }
    },
  });
  const storeMode = new Gauge({
    name: 'rate_limit_store_mode',
    help: 'Where rate limits are kept: 1 for the current mode (shared: Redis; fallback: memory while Redis is unreachable; local: memory, no Redis configured)',
    labelNames: ['mode'] as const,
    registers,
  });

  return {
    watch(next) {
      Object.assign(sources, next);
    },
    setRateLimitStoreMode(mode) {
      for (const each of RATE_LIMIT_MODES) storeMode.set({ mode: each }, each === mode ? 1 : 0);
    },
  };
}
