import { describe, expect, it } from 'vitest';
import { MemoryLoginThrottle } from '../../../src/security/memory-login-throttle.js';
import { MemoryRevocationList } from '../../../src/security/memory-revocation-list.js';

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('MemoryRevocationList', () => {
  it('revokes until `until` plus the grace period', async () => {
    const clock = manualClock();
    const list = new MemoryRevocationList(30_000, clock.now);
    await list.revokeSessions(['a', 'b'], new Date(clock.now() + 1000));
    expect(await list.isSessionRevoked('a')).toBe(true);
    expect(await list.isSessionRevoked('c')).toBe(false);
    clock.advance(30_999);
    expect(await list.isSessionRevoked('b')).toBe(true);
    clock.advance(1);
    expect(await list.isSessionRevoked('b')).toBe(false);
  });
});

describe('MemoryLoginThrottle on a manual clock', () => {
  it('follows the default policy: 1, 2, 4, 8, 16 s delays, then 15 minutes of refusal', async () => {
    const clock = manualClock();
    const throttle = new MemoryLoginThrottle({ now: clock.now });
    const keys = ['login:ip:192.0.2.1'];
    for (let i = 0; i < 4; i += 1) await throttle.recordFailure(keys);
    for (const delay of [1, 2, 4, 8, 16]) {
      await throttle.recordFailure(keys);
      expect(await throttle.check(keys)).toEqual({ allowed: false, retryAfterSeconds: delay });
      clock.advance(delay * 1000);
      expect(await throttle.check(keys)).toEqual({ allowed: true, retryAfterSeconds: 0 });
    }
    await throttle.recordFailure(keys);
    expect(await throttle.check(keys)).toEqual({ allowed: false, retryAfterSeconds: 900 });
    clock.advance(900_000 - 1);
    expect((await throttle.check(keys)).allowed).toBe(false);
    clock.advance(1);
    expect(await throttle.check(keys)).toEqual({ allowed: true, retryAfterSeconds: 0 });
  });

  it('drops expired entries', async () => {
    const clock = manualClock();
    const throttle = new MemoryLoginThrottle({ now: clock.now });
    for (let i = 0; i < 2000; i += 1) await throttle.recordFailure([`login:ip:${i}`]);
    clock.advance(900_000);
    for (let i = 0; i < 1100; i += 1) await throttle.recordFailure([`login:ip:new-${i}`]);
    const size = (throttle as unknown as { entries: Map<string, unknown> }).entries.size;
    expect(size).toBeLessThanOrEqual(1100);
  });
});
