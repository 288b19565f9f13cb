import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/domain/logger.js';
import {
  RateLimitStoreUnavailable,
  type BucketLimit,
  type RateLimitDecision,
  type RateLimitStore,
  type WindowLimit,
} from '../../../src/domain/rate-limit/ports.js';
import {
  FailoverRateLimitStore,
  type RateLimitMode,
} from '../../../src/storage/rate-limit/failover-rate-limit-store.js';
import { MemoryRateLimitStore } from '../../../src/storage/rate-limit/memory-rate-limit-store.js';

/** Stands in for Redis: a working store that can be made to fail like an unreachable one. */
class OutageStore implements RateLimitStore {
  down = false;
  calls = 0;
  /** When set, calls wait for it: a primary that is slow to answer. */
  stall: Promise<void> | undefined;

  constructor(private readonly inner: RateLimitStore) {}

  takeRequest(buckets: BucketLimit[]): Promise<RateLimitDecision> {
    return this.call(() => this.inner.takeRequest(buckets));
  }

  reserve(windows: WindowLimit[], amount: number, id: string): Promise<RateLimitDecision> {
    return this.call(() => this.inner.reserve(windows, amount, id));
  }

  settle(windows: WindowLimit[], id: string, actual: number): Promise<void> {
    return this.call(() => this.inner.settle(windows, id, actual));
  }

  private async call<T>(answer: () => Promise<T>): Promise<T> {
    this.calls += 1;
    if (this.stall) await this.stall;
    if (this.down) throw new RateLimitStoreUnavailable(new Error('connect ECONNREFUSED'));
    return answer();
  }
}

interface Line {
  level: string;
  msg: string | undefined;
}

function setup(instanceCount = 3) {
  let now = 1_700_000_000_000;
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) };
  const primary = new OutageStore(new MemoryRateLimitStore({ now: clock.now }));
  const fallback = new MemoryRateLimitStore({ now: clock.now });
  const lines: Line[] = [];
  const log =
    (level: string) =>
    (_obj: object, msg?: string): void =>
      void lines.push({ level, msg });
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  const modes: RateLimitMode[] = [];
  const store = new FailoverRateLimitStore(primary, fallback, {
    instanceCount,
    logger,
    onModeChange: (mode) => modes.push(mode),
    now: clock.now,
  });
  const linesAt = (level: string) => lines.filter((line) => line.level === level);
  return { store, primary, clock, modes, linesAt };
}

const bucket = (perMinute: number): BucketLimit[] => [{ key: 'rpm:key:1', perMinute }];

describe('FailoverRateLimitStore', () => {
  it('uses the primary, with the full limits, while it answers', async () => {
    const { store, primary, modes, linesAt } = setup();
    const decision = await store.takeRequest(bucket(10));
    expect(decision.states[0]).toMatchObject({ limit: 10, remaining: 9 });
    expect(primary.calls).toBe(1);
    expect(store.mode()).toBe('shared');
    expect(modes).toEqual([]);
    expect(linesAt('warn')).toEqual([]);
  });

  it('answers from memory with each limit divided by the instance count during an outage', async () => {
    const { store, primary, modes, linesAt } = setup(3);
    primary.down = true;
    // ceil(10 / 3) = 4 requests on this instance.
    const decisions = [];
    for (let i = 0; i < 5; i += 1) decisions.push(await store.takeRequest(bucket(10)));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false]);
    expect(decisions[0]?.states[0]).toMatchObject({ limit: 4, remaining: 3 });
    expect(store.mode()).toBe('fallback');
    expect(modes).toEqual(['fallback']);
    expect(linesAt('warn')).toHaveLength(1);

    const window: WindowLimit[] = [{ key: 'tpm:key:1', perMinute: 1000 }];
    const reserved = await store.reserve(window, 300, 'r1');
    expect(reserved.states[0]).toMatchObject({ limit: 334, remaining: 34 });
    await store.settle(window, 'r1', 100);
    expect((await store.reserve(window, 234, 'r2')).allowed).toBe(true);
    // A limit smaller than the instance count still admits one per instance.
    expect((await store.takeRequest([{ key: 'rpm:tiny', perMinute: 2 }])).states[0]?.limit).toBe(1);
  });

  it('sends the primary at most one call per second while in fallback', async () => {
    const { store, primary, clock } = setup();
    primary.down = true;
    await store.takeRequest(bucket(100));
    expect(primary.calls).toBe(1);
    for (let i = 0; i < 20; i += 1) await store.takeRequest(bucket(100));
    clock.advance(999);
    await store.reserve([{ key: 'tpm:key:1', perMinute: 1000 }], 1, 'r');
    expect(primary.calls).toBe(1);

    clock.advance(1);
    await store.takeRequest(bucket(100));
    expect(primary.calls).toBe(2);
    for (let i = 0; i < 20; i += 1) await store.takeRequest(bucket(100));
    expect(primary.calls).toBe(2);
    expect(store.mode()).toBe('fallback');
  });

  it('lets only one call wait on a slow primary; the others go to memory meanwhile', async () => {
    const { store, primary, clock } = setup();
    primary.down = true;
    await store.takeRequest(bucket(100));
    clock.advance(1000);
    let release = () => undefined as void;
    primary.stall = new Promise<void>((resolve) => (release = resolve));
    const probe = store.takeRequest(bucket(100));
    clock.advance(5000);
    const others = await Promise.all(
      Array.from({ length: 5 }, () => store.takeRequest(bucket(100))),
    );
    expect(others.every((d) => d.states[0]?.limit === 34)).toBe(true);
    expect(primary.calls).toBe(2);
    release();
    expect((await probe).states[0]?.limit).toBe(34);
  });

  it('returns to shared mode on the first success, logging once', async () => {
    const { store, primary, clock, modes, linesAt } = setup();
    primary.down = true;
    for (let i = 0; i < 3; i += 1) await store.takeRequest(bucket(10));
    primary.down = false;
    // Not before the next probe is due.
    expect((await store.takeRequest(bucket(10))).states[0]?.limit).toBe(4);
    clock.advance(1000);
    const recovered = await store.takeRequest(bucket(10));
    expect(recovered.states[0]).toMatchObject({ limit: 10, remaining: 9 });
    expect(store.mode()).toBe('shared');
    for (let i = 0; i < 3; i += 1) await store.takeRequest(bucket(10));
    expect(primary.calls).toBe(2 + 3);
    expect(modes).toEqual(['fallback', 'shared']);
    expect(linesAt('warn')).toHaveLength(1);
    expect(linesAt('info')).toHaveLength(1);
  });

  it('settles a reservation made in the other mode without effect or error', async () => {
    const { store, primary, clock } = setup(1);
    const window: WindowLimit[] = [{ key: 'tpm:key:1', perMinute: 1000 }];
    await store.reserve(window, 600, 'shared-made');
    primary.down = true;
    await store.settle(window, 'shared-made', 10);
    expect((await store.reserve(window, 1000, 'fallback-made')).allowed).toBe(true);
    primary.down = false;
    clock.advance(1000);
    await store.settle(window, 'fallback-made', 0);
    expect(store.mode()).toBe('shared');
    expect((await store.reserve(window, 500, 'after')).allowed).toBe(false);
  });

  it('passes other errors through without leaving shared mode', async () => {
    const { store } = setup();
    await expect(store.takeRequest(bucket(0))).rejects.toThrow(RangeError);
    expect(store.mode()).toBe('shared');
  });

  it('refuses an instance count that is not a positive integer', () => {
    const fallback = new MemoryRateLimitStore();
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    for (const instanceCount of [0, 1.5, Number.NaN]) {
      expect(
        () => new FailoverRateLimitStore(fallback, fallback, { instanceCount, logger }),
      ).toThrow(RangeError);
    }
  });
});
