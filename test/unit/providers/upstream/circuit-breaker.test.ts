import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../../src/providers/shared/circuit-breaker.js';

function breaker(threshold = 3, cooldownMs = 1_000) {
  const clock = { now: 0 };
  return {
    clock,
    breaker: new CircuitBreaker({ failureThreshold: threshold, cooldownMs, now: () => clock.now }),
  };
}

function failTimes(b: CircuitBreaker, times: number): void {
  for (let index = 0; index < times; index += 1) b.tryAcquire()?.fail();
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures; a success resets the count', () => {
    const { breaker: b } = breaker(3);
    failTimes(b, 2);
    b.tryAcquire()?.succeed();
    failTimes(b, 2);
    expect(b.state()).toBe('closed');
    failTimes(b, 1);
    expect(b.state()).toBe('open');
    expect(b.tryAcquire()).toBeUndefined();
  });

  it('half-opens after the cool-down and lets exactly one probe through', () => {
    const { breaker: b, clock } = breaker(1, 1_000);
    failTimes(b, 1);
    clock.now = 999;
    expect(b.state()).toBe('open');
    clock.now = 1_000;
    expect(b.state()).toBe('half-open');
    const probe = b.tryAcquire();
    expect(probe).toBeDefined();
    expect(b.tryAcquire()).toBeUndefined();
    probe?.succeed();
    expect(b.state()).toBe('closed');
    expect(b.tryAcquire()).toBeDefined();
  });

  it('re-opens for a full cool-down when the probe fails', () => {
    const { breaker: b, clock } = breaker(1, 1_000);
    failTimes(b, 1);
    clock.now = 1_500;
    b.tryAcquire()?.fail();
    expect(b.state()).toBe('open');
    clock.now = 2_499;
    expect(b.state()).toBe('open');
    clock.now = 2_500;
    expect(b.state()).toBe('half-open');
  });

  it('frees the probe slot when the probe is released without a verdict', () => {
    const { breaker: b, clock } = breaker(1, 1_000);
    failTimes(b, 1);
    clock.now = 1_000;
    b.tryAcquire()?.release();
    expect(b.state()).toBe('half-open');
    expect(b.tryAcquire()).toBeDefined();
  });

  it('counts a failure after success (a broken stream) but only the first verdict otherwise', () => {
    const { breaker: b } = breaker(2);
    const permit = b.tryAcquire();
    permit?.succeed();
    permit?.fail();
    permit?.fail();
    expect(b.state()).toBe('closed');
    const other = b.tryAcquire();
    other?.release();
    other?.fail();
    expect(b.state()).toBe('closed');
    b.tryAcquire()?.fail();
    expect(b.state()).toBe('open');
  });

  it('ignores late results of attempts admitted before it opened', () => {
    const { breaker: b, clock } = breaker(1, 1_000);
    const early = b.tryAcquire();
    failTimes(b, 1);
    early?.succeed();
    expect(b.state()).toBe('open');
    clock.now = 1_000;
    expect(b.state()).toBe('half-open');
  });
});
