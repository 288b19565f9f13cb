import { describe, expect, it } from 'vitest';
import { OverloadMonitor } from '../../../src/runtime/overload-monitor.js';

function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a real blocked event loop, as a slow synchronous handler would cause
  }
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OverloadMonitor', () => {
  it('reports lag only when it persists, and clears when the loop is free again', async () => {
    const monitor = new OverloadMonitor({
      eventLoopLagLimitMs: 40,
      heapUsedRatioLimit: 1,
      sampleIntervalMs: 100,
      consecutiveLaggingSamples: 2,
    });
    try {
      await tick(250);
      expect(monitor.reason()).toBeNull();
      // One long pause is not saturation.
      blockFor(100);
      await tick(120);
      expect(monitor.reason()).toBeNull();
      // Pause after pause is.
      for (let i = 0; i < 4 && monitor.reason() === null; i += 1) {
        blockFor(100);
        await tick(30);
        blockFor(100);
        await tick(30);
      }
      expect(monitor.reason()).toBe('event_loop_lag');
      await tick(350);
      expect(monitor.reason()).toBeNull();
    } finally {
      monitor.stop();
    }
  });

  it('reports memory pressure over the heap ratio', async () => {
    const monitor = new OverloadMonitor({
      eventLoopLagLimitMs: 10_000,
      heapUsedRatioLimit: 0.000001,
      sampleIntervalMs: 50,
    });
    try {
      await tick(120);
      expect(monitor.reason()).toBe('memory');
    } finally {
      monitor.stop();
    }
  });
});
