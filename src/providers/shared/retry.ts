export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  maxRetries: number;
  /** Backoff ceiling of the first retry; it doubles for each further retry. */
  baseDelayMs: number;
  /** Highest backoff ceiling. */
  maxDelayMs: number;
  /**
   * The longest upstream `Retry-After` worth waiting for. A longer one ends the attempts on this
   * target at once, so the router can try the next one instead of holding the request's slot and
   * token reservation through the wait.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxRetries: 2,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  maxRetryAfterMs: 5_000,
};

/**
 * Statuses worth another attempt: the upstream was overloaded or broken, not the request. 408 and
 * 409 are what openai-node retries too (request timeout, lock contention).
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

type HeaderValue = string | string[] | undefined;

function firstValue(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * How long the upstream asked us to wait: `retry-after-ms` (OpenAI's precise variant) first, then
 * `Retry-After` as seconds or an HTTP date. Undefined when absent or unreadable.
 */
export function parseRetryAfterMs(
  headers: Readonly<Record<string, HeaderValue>>,
  nowMs: number = Date.now(),
): number | undefined {
  const precise = firstValue(headers['retry-after-ms'])?.trim();
  if (precise) {
    const ms = Number(precise);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  const value = firstValue(headers['retry-after'])?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * Exponential backoff with full jitter (a uniform pick in [0, ceiling)), which spreads the retries
 * of many clients that failed together instead of having them return in waves.
 */
export function backoffDelayMs(
  retry: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

export interface RetryDecisionInput {
  /** Retries already made (0 before the first retry). */
  retriesSoFar: number;
  policy: RetryPolicy;
  /** From the upstream's Retry-After headers, if it sent any. */
  retryAfterMs: number | undefined;
  /** Time left of the request's budget. */
  remainingMs: number;
  random?: () => number;
}

/**
 * The delay before the next attempt, or undefined when there should be none. A delay that would
 * use up the remaining budget is pointless — the attempt after it could not finish — and one
 * beyond `maxRetryAfterMs` costs more than another target would, so in both cases the failure is
 * reported at once and the router can fall back instead. A shorter wait than the upstream asked
 * for would only be refused again.
 */
export function nextRetryDelayMs(input: RetryDecisionInput): number | undefined {
  if (input.retriesSoFar >= input.policy.maxRetries) return undefined;
  if (input.retryAfterMs !== undefined && input.retryAfterMs > input.policy.maxRetryAfterMs) {
    return undefined;
  }
  const delay =
    input.retryAfterMs ?? backoffDelayMs(input.retriesSoFar, input.policy, input.random);
  return delay < input.remainingMs ? delay : undefined;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
