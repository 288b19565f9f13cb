import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import { GenerationGate, type OverloadSignal } from '../../../src/domain/load/generation-gate.js';

const healthy: OverloadSignal = { reason: () => null };

function gate(overrides: Partial<ConstructorParameters<typeof GenerationGate>[0]> = {}) {
  return new GenerationGate({
    maxConcurrent: 2,
    maxQueued: 1,
    queueTimeoutMs: 50,
    overload: healthy,
    ...overrides,
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    return (error as AppError).code;
  }
}

describe('GenerationGate', () => {
  it('admits up to the cap, queues one, and refuses the rest at once with Retry-After', async () => {
    const g = gate();
    const signal = new AbortController().signal;
    const first = await g.acquire(signal);
    await g.acquire(signal);
    const queued = g.acquire(signal);
    expect(g.stats()).toEqual({ active: 2, queued: 1 });
    const refused = await g.acquire(signal).catch((error: unknown) => error as AppError);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('OVERLOADED');
    expect((refused as AppError).headers['retry-after']).toBe('1');
    first();
    first(); // releasing twice frees one slot only
    await queued;
    expect(g.stats()).toEqual({ active: 2, queued: 0 });
  });

  it('gives up on a queued request after the queue timeout', async () => {
    const g = gate({ maxConcurrent: 1 });
    const signal = new AbortController().signal;
    await g.acquire(signal);
    expect(await codeOf(g.acquire(signal))).toBe('OVERLOADED');
    expect(g.stats()).toEqual({ active: 1, queued: 0 });
  });

  it('drops a queued request whose client went away', async () => {
    const g = gate({ maxConcurrent: 1, queueTimeoutMs: 10_000 });
    await g.acquire(new AbortController().signal);
    const controller = new AbortController();
    const waiting = g.acquire(controller.signal);
    controller.abort();
    expect(await codeOf(waiting)).toBe('OVERLOADED');
    expect(g.stats().queued).toBe(0);
  });

  it('sheds everything while the process is overloaded', async () => {
    for (const reason of ['event_loop_lag', 'memory'] as const) {
      const g = gate({ overload: { reason: () => reason } });
      expect(await codeOf(g.acquire(new AbortController().signal))).toBe('OVERLOADED');
      expect(g.stats()).toEqual({ active: 0, queued: 0 });
    }
  });

  it('serves the queue in arrival order', async () => {
    const g = gate({ maxConcurrent: 1, maxQueued: 3, queueTimeoutMs: 10_000 });
    const signal = new AbortController().signal;
    const release = await g.acquire(signal);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => g.acquire(signal).then((r) => (order.push(n), r)));
    release();
    for (const waiter of waiters) (await waiter)();
    expect(order).toEqual([1, 2, 3]);
  });
});
