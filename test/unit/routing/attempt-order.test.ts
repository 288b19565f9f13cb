import { describe, expect, it } from 'vitest';
import type { ModelRoute, UpstreamTarget } from '../../../src/domain/ports.js';
import { planAttempts } from '../../../src/domain/routing/attempt-order.js';

function row(provider: string, weight: number): UpstreamTarget {
  return { provider, model: `${provider}-model`, weight, timeoutMs: 1000 };
}

function routeOf(targets: UpstreamTarget[], fallbacks: UpstreamTarget[] = []): ModelRoute {
  return { id: 'm', ownedBy: 'team', created: 1, targets, fallbacks };
}

const firstPick = (route: ModelRoute, value: number) =>
  planAttempts(route, () => value)[0]?.target.provider;

describe('planAttempts', () => {
  const weighted = routeOf([row('a', 3), row('b', 1)]);

  it('picks by cumulative weight', () => {
    expect(firstPick(weighted, 0)).toBe('a');
    expect(firstPick(weighted, 0.749)).toBe('a');
    expect(firstPick(weighted, 0.75)).toBe('b');
    expect(firstPick(weighted, 0.999)).toBe('b');
    // Out-of-range values from a bad source still land on a real target.
    expect(firstPick(weighted, 1)).toBe('b');
    expect(firstPick(weighted, -1)).toBe('a');
  });

  it('shares traffic in proportion to the weights', () => {
    const counts = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i += 1) {
      const provider = firstPick(weighted, i / n) ?? 'none';
      counts.set(provider, (counts.get(provider) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ a: 7500, b: 2500 });
  });

  it('tries the rest by descending weight, table order among equals, then fallbacks in order', () => {
    const route = routeOf(
      [row('a', 1), row('b', 2), row('c', 5), row('d', 2)],
      [row('y', 1), row('x', 1)],
    );
    // 0.2 × 10 = 2 falls in b's share [1, 3).
    const plan = planAttempts(route, () => 0.2);
    expect(plan.map((p) => `${p.target.provider}${p.fallback ? '*' : ''}`)).toEqual([
      'b',
      'c',
      'd',
      'a',
      'y*',
      'x*',
    ]);
  });

  it('plans only the fallbacks when no target is configured', () => {
    const plan = planAttempts(routeOf([], [row('y', 1)]), () => 0.5);
    expect(plan).toEqual([{ target: row('y', 1), fallback: true }]);
  });
});
