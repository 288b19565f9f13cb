import { collectDefaultMetrics, Registry } from 'prom-client';
import { silentObserver, type InferenceObserver } from '../domain/observability.js';
import { createHttpRecorder, type HttpRecorder } from './http-recorder.js';
import { createInferenceMetrics } from './inference-metrics.js';
import { observeRedisCommands } from './redis-metrics.js';
import {
  createSaturationMetrics,
  type RateLimitStoreMode,
  type SaturationSources,
} from './saturation-metrics.js';

export interface MetricsOptions {
  /**
   * Distinct organizations labelled on the token counters; the rest are counted as `other`.
   * Default 1000.
   */
  maxOrganizationLabels?: number;
  /** Process metrics (heap, RSS, event-loop lag, GC, handles). Default true. */
  processMetrics?: boolean;
  /** Redis command latency from ioredis's diagnostics channel. Default false. */
  redisCommands?: boolean;
}

/** Every metric of one app instance, and the objects that feed them. */
export interface Metrics {
  /** False for `disabledMetrics()`: nothing is recorded, and there is nothing to serve. */
  readonly enabled: boolean;
  readonly registry: Registry;
  /** For `registerHttpMetrics(app, metrics.http)`. */
  readonly http: HttpRecorder;
  /** For the domain services that take an `observer`. */
  readonly inference: InferenceObserver;
  /** Attaches the live objects the saturation gauges read on each scrape. */
  watch(sources: Partial<SaturationSources>): void;
  setRateLimitStoreMode(mode: RateLimitStoreMode): void;
  /** Stops what observes the process from outside the registry (the Redis channel). */
  close(): void;
}

export const DEFAULT_MAX_ORGANIZATION_LABELS = 1000;

/**
 * A registry of its own, not prom-client's global one: several apps in one process (tests) must
 * not register the same metric names twice or read each other's counts.
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const saturation = createSaturationMetrics(registry);
  const redis = options.redisCommands ? observeRedisCommands(registry) : undefined;
  return {
    enabled: true,
    registry,
    http: createHttpRecorder(registry),
    inference: createInferenceMetrics(registry, {
      maxOrganizations: options.maxOrganizationLabels ?? DEFAULT_MAX_ORGANIZATION_LABELS,
    }),
    watch: (sources) => saturation.watch(sources),
    setRateLimitStoreMode: (mode) => saturation.setRateLimitStoreMode(mode),
    close: () => redis?.stop(),
  };
}

/**
 * METRICS_ENABLED=false: every recorder is a no-op and the registry stays empty. No process
 * collector runs and the Redis diagnostics channel is not subscribed to.
 */
export function disabledMetrics(): Metrics {
  return {
    enabled: false,
    registry: new Registry(),
    http: { observe: () => undefined, inFlight: () => undefined },
    inference: silentObserver,
    watch: () => undefined,
    setRateLimitStoreMode: () => undefined,
    close: () => undefined,
  };
}
