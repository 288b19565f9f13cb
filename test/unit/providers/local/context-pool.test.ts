import { describe, expect, it } from 'vitest';
import { ContextPool } from '../../../../src/providers/local/context-pool.js';

const live = () => new AbortController().signal;

describe('ContextPool', () => {
  it('hands out each item once and serves waiters in arrival order', async () => {
    const pool = new ContextPool(['a']);
    const first = await pool.acquire(live());
    const order: string[] = [];
    const second = pool.acquire(live()).then((item) => order.push(`second:${item}`));
    const third = pool.acquire(live()).then((item) => order.push(`third:${item}`));
    expect(pool.stats).toEqual({ idle: 0, waiting: 2 });
    pool.release(first);
    await second;
    pool.release('a');
    await third;
    expect(order).toEqual(['second:a', 'third:a']);
  });

  it('withdraws an aborted waiter without losing the item', async () => {
    const pool = new ContextPool(['a']);
    const held = await pool.acquire(live());
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(pool.stats.waiting).toBe(0);
    pool.release(held);
    expect(pool.stats.idle).toBe(1);
  });

  it('refuses an already aborted request and rejects waiters on close', async () => {
    const pool = new ContextPool(['a']);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(pool.acquire(controller.signal)).rejects.toThrow('gone');
    await pool.acquire(live());
    const waiting = pool.acquire(live());
    pool.close();
    await expect(waiting).rejects.toThrow('closed');
    await expect(pool.acquire(live())).rejects.toThrow('closed');
  });
});
