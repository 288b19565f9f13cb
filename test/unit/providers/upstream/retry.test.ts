import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  nextRetryDelayMs,
  parseRetryAfterMs,
  sleep,
} from '../../../../src/providers/shared/retry.js';

const policy = DEFAULT_RETRY_POLICY;

describe('retry policy', () => {
  it('retries 408, 409, 429 and 5xx only', () => {
    for (const status of [408, 409, 429, 500, 502, 503, 504, 529]) {
      expect(isRetryableStatus(status)).toBe(true);
    }
    for (const status of [400, 401, 403, 404, 413, 422])
      expect(isRetryableStatus(status)).toBe(false);
  });

  it('backs off exponentially with full jitter under a cap', () => {
    expect(backoffDelayMs(0, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(0, policy, () => 0.999_999)).toBe(249);
    expect(backoffDelayMs(1, policy, () => 0.999_999)).toBe(499);
    expect(backoffDelayMs(2, policy, () => 0.5)).toBe(500);
    expect(backoffDelayMs(10, policy, () => 0.999_999)).toBe(3_999);
    for (let retry = 0; retry < 8; retry += 1) {
      const delay = backoffDelayMs(retry, policy);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(4_000, 250 * 2 ** retry));
    }
  });

  it('reads retry-after-ms, Retry-After seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '9' }, now)).toBe(1_500);
    expect(parseRetryAfterMs({ 'retry-after': '2' }, now)).toBe(2_000);
    expect(parseRetryAfterMs({ 'retry-after': '0.5' }, now)).toBe(500);
    expect(parseRetryAfterMs({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }, now)).toBe(3_000);
    expect(parseRetryAfterMs({ 'retry-after': 'Tue, 31 Dec 2024 00:00:00 GMT' }, now)).toBe(0);
    expect(parseRetryAfterMs({ 'retry-after': ['4'] }, now)).toBe(4_000);
    expect(parseRetryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after-ms': 'x', 'retry-after': '1' }, now)).toBe(1_000);
    expect(parseRetryAfterMs({}, now)).toBeUndefined();
  });

  it('plans the next delay within the retry count and the remaining budget', () => {
    const base = { policy, retryAfterMs: undefined, remainingMs: 10_000, random: () => 0.5 };
    expect(nextRetryDelayMs({ ...base, retriesSoFar: 0 })).toBe(125);
    expect(nextRetryDelayMs({ ...base, retriesSoFar: 1 })).toBe(250);
    expect(nextRetryDelayMs({ ...base, retriesSoFar: 2 })).toBeUndefined();
    expect(nextRetryDelayMs({ ...base, retriesSoFar: 0, retryAfterMs: 3_000 })).toBe(3_000);
    expect(nextRetryDelayMs({ ...base, retriesSoFar: 0, retryAfterMs: 30_000 })).toBeUndefined();
    expect(nextRetryDelayMs({ ...base, retriesSoFar: 0, remainingMs: 100 })).toBeUndefined();
    expect(
      nextRetryDelayMs({ ...base, retriesSoFar: 0, policy: { ...policy, maxRetries: 0 } }),
    ).toBeUndefined();
  });

  it('does not wait for a Retry-After beyond the cap, however much budget is left', () => {
    const base = { policy, retriesSoFar: 0, remainingMs: 600_000 };
    expect(nextRetryDelayMs({ ...base, retryAfterMs: 5_000 })).toBe(5_000);
    expect(nextRetryDelayMs({ ...base, retryAfterMs: 5_001 })).toBeUndefined();
    expect(nextRetryDelayMs({ ...base, retryAfterMs: 240_000 })).toBeUndefined();
    expect(
      nextRetryDelayMs({
        ...base,
        retryAfterMs: 240_000,
        policy: { ...policy, maxRetryAfterMs: 300_000 },
      }),
    ).toBe(240_000);
  });

  it('sleeps until aborted, then rejects with the reason', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    await expect(sleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });
});
