import type { Random } from './random.js';

export interface SamplingOptions {
  temperature: number;
  topP: number;
  random: Random;
}

/** Picks the next token from a probability map; undefined only when the map is empty. */
export function chooseToken(
  distribution: ReadonlyMap<number, number>,
  options: SamplingOptions,
): number | undefined {
  if (options.temperature <= 0) return mostLikely(distribution);
  return sample(distribution, options);
}

// Ties go to the lower token id so that greedy output never depends on Map insertion order.
function mostLikely(distribution: ReadonlyMap<number, number>): number | undefined {
  let best: number | undefined;
  let bestProbability = -Infinity;
  for (const [token, probability] of distribution) {
    if (
      probability > bestProbability ||
      (probability === bestProbability && best !== undefined && token < best)
    ) {
      best = token;
      bestProbability = probability;
    }
  }
  return best;
}

function sample(
  distribution: ReadonlyMap<number, number>,
  { temperature, topP, random }: SamplingOptions,
): number | undefined {
  let maxProbability = 0;
  for (const probability of distribution.values()) {
    maxProbability = Math.max(maxProbability, probability);
  }
  if (maxProbability === 0) return mostLikely(distribution);
  // p^(1/T) relative to the most likely token, computed in log space so tiny temperatures do not
  // underflow every weight to zero.
  const weighted: [token: number, weight: number][] = [];
  for (const [token, probability] of distribution) {
    if (probability <= 0) continue;
    weighted.push([token, Math.exp(Math.log(probability / maxProbability) / temperature)]);
  }
  weighted.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);

  // Nucleus: the smallest head of the ranking whose mass reaches topP.
  let kept = 0;
  let keptMass = 0;
  for (const [, weight] of weighted) {
    kept++;
    keptMass += weight;
    if (keptMass >= topP * total) break;
  }

  let target = random() * keptMass;
  for (let i = 0; i < kept; i++) {
    const [token, weight] = weighted[i] as [number, number];
    target -= weight;
    if (target < 0) return token;
  }
  return (weighted[kept - 1] as [number, number])[0];
}
