import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from '../../../src/storage/rate-limit/memory-rate-limit-store.js';

// The shared semantics are tested against both stores in
// test/integration/rate-limit/rate-limit-store.test.ts; these are the memory store's own concerns.

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    set: (ms: number) => void (now = ms),
    advance: (ms: number) => void (now += ms),
  };
}

/** Reads the private maps: memory being bounded is only observable from inside. */
function sizes(store: MemoryRateLimitStore): { buckets: number; windows: number } {
  const { buckets, windows } = store as unknown as {
    buckets: Map<string, unknown>;
    windows: Map<string, unknown>;
  };
  return { buckets: buckets.size, windows: windows.size };
}

describe('MemoryRateLimitStore', () => {
  it('forgets keys idle for more than two minutes', async () => {
    const clock = manualClock();
    const store = new MemoryRateLimitStore({ now: clock.now });
    for (let i = 0; i < 1000; i += 1) {
      await store.takeRequest([{ key: `rpm:${i}`, perMinute: 10 }]);
      await store.reserve([{ key: `tpm:${i}`, perMinute: 1000 }], 10, `r${i}`);
    }
    expect(sizes(store)).toEqual({ buckets: 1000, windows: 1000 });

    // A sweep at 90 s finds nothing idle long enough; the next one, a minute later, takes all
    // but the bucket used in between.
    clock.advance(90_000);
    await store.takeRequest([{ key: 'rpm:0', perMinute: 10 }]);
    expect(sizes(store)).toEqual({ buckets: 1000, windows: 1000 });
    clock.advance(60_000);
    await store.takeRequest([{ key: 'rpm:1', perMinute: 10 }]);
    expect(sizes(store)).toEqual({ buckets: 2, windows: 0 });
  });

  it('keeps reservations in order when the system clock steps back', async () => {
    const clock = manualClock();
    const store = new MemoryRateLimitStore({ now: clock.now });
    const window = [{ key: 'tpm', perMinute: 1000 }];
    await store.reserve(window, 600, 'first');
    clock.advance(-30_000);
    const second = await store.reserve(window, 400, 'second');
    expect(second.states[0]?.remaining).toBe(0);
    clock.advance(30_000 + 60_000);
    // Both were taken at (at least) the first one's time, so both have left.
    expect((await store.reserve(window, 1000, 'third')).allowed).toBe(true);
  });

  it('lets go of everything on close', async () => {
    const store = new MemoryRateLimitStore();
    await store.takeRequest([{ key: 'rpm', perMinute: 10 }]);
    await store.reserve([{ key: 'tpm', perMinute: 10 }], 1, 'r');
    store.close();
    expect(sizes(store)).toEqual({ buckets: 0, windows: 0 });
  });
});
