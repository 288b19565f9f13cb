import { randomInt } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

const TWO_POW_32 = 4_294_967_296;

// splitmix32-style finalizer: spreads nearby seeds (0, 1, 2…) into unrelated states.
function mix(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** mulberry32: tiny, fast and good enough for choosing tokens; the same seed gives the same stream. */
export function seededRandom(seed: number): Random {
  // Seeds may exceed 32 bits (the API accepts any integer), so both halves feed the state.
  const whole = Math.trunc(seed);
  const high = Math.floor(whole / TWO_POW_32);
  let state = mix(mix(high) ^ whole);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  };
}

export function unseededRandom(): Random {
  return seededRandom(randomInt(0, 2 ** 48 - 1));
}
