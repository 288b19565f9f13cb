import type { ModelRoute, UpstreamTarget } from '../ports.js';

export interface PlannedAttempt {
  target: UpstreamTarget;
  /** True for a row of the route's `fallbacks`, false for one of its `targets`. */
  fallback: boolean;
}

/**
 * The order one request tries a route's upstreams in: one target picked by weight, then the
 * other targets by descending weight (table order among equals), then the fallbacks in order.
 * `random` returns a number in [0, 1), like Math.random.
 */
export function planAttempts(route: ModelRoute, random: () => number): PlannedAttempt[] {
  const targets = route.targets;
  const total = targets.reduce((sum, t) => sum + t.weight, 0);
  let point = Math.min(Math.max(random(), 0), 1) * total;
  let picked = targets.length - 1;
  for (let i = 0; i < targets.length; i += 1) {
    point -= targets[i]?.weight ?? 0;
    if (point < 0) {
      picked = i;
      break;
    }
  }
  const rest = targets
    .filter((_, i) => i !== picked)
    // Array.prototype.sort is stable, so equal weights keep table order.
    .sort((a, b) => b.weight - a.weight);
  const first = targets[picked];
  return [
    ...(first ? [{ target: first, fallback: false }] : []),
    ...rest.map((target) => ({ target, fallback: false })),
    ...route.fallbacks.map((target) => ({ target, fallback: true })),
  ];
}
