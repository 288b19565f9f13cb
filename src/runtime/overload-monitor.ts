import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { OverloadSignal } from '../domain/load/generation-gate.js';

export interface OverloadMonitorOptions {
  /** Shed load while the event loop's p99 delay over the last second exceeds this. */
  eventLoopLagLimitMs: number;
  /** Shed load while the V8 heap is fuller than this fraction of its limit. */
  heapUsedRatioLimit: number;
  sampleIntervalMs?: number;
  /**
   * Lag must persist this many samples in a row: one long pause (start-up, a major GC, a big
   * embedded-database query) is not saturation, and shedding on it would refuse healthy traffic.
   */
  consecutiveLaggingSamples?: number;
}

/**
 * Samples event-loop delay and heap use once per interval, so a request asks a cached answer
 * instead of measuring anything on its own path.
 */
export class OverloadMonitor implements OverloadSignal {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private current: 'event_loop_lag' | 'memory' | null = null;
  private lastLagMs = 0;
  private laggingSamples = 0;

  constructor(private readonly options: OverloadMonitorOptions) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), options.sampleIntervalMs ?? 1000);
    this.timer.unref();
  }

  reason(): 'event_loop_lag' | 'memory' | null {
    return this.current;
  }

  /** The p99 event-loop delay of the last interval, in ms. */
  eventLoopLagMs(): number {
    return this.lastLagMs;
  }

  private sample(): void {
    this.lastLagMs = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    this.laggingSamples =
      this.lastLagMs > this.options.eventLoopLagLimitMs ? this.laggingSamples + 1 : 0;
    const heap = getHeapStatistics();
    if (heap.used_heap_size / heap.heap_size_limit > this.options.heapUsedRatioLimit) {
      this.current = 'memory';
    } else if (this.laggingSamples >= (this.options.consecutiveLaggingSamples ?? 3)) {
      this.current = 'event_loop_lag';
    } else {
      this.current = null;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
