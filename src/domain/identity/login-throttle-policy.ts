import type { LoginThrottleDecision } from './ports.js';

/**
 * The policy both LoginThrottle implementations apply, per key (e.g. `login:email:<sha256>`,
 * `login:account-ip:<sha256>:<addr>`, `login:ip:<addr>`):
 *
 * - an attempt counts as a failure from `check` until `reset` or `release` (success) or
 *   `recordFailure`, so a burst of concurrent guesses is throttled as if each had already failed;
 * - from `delayAfter` failures on, an attempt must wait `baseDelayMs · 2^(failures − delayAfter)`
 *   after the key's previous attempt (1, 2, 4, 8, 16 s by default);
 * - from `refuseAfter` failures on, the key is refused until its window ends;
 * - a key's failures are forgotten `windowMs` after its last attempt.
 *
 * A check covering several keys is allowed only if every key allows it, and then counts for all.
 */
export interface LoginThrottlePolicy {
  windowMs: number;
  delayAfter: number;
  refuseAfter: number;
  baseDelayMs: number;
}

export const DEFAULT_LOGIN_THROTTLE_POLICY: Readonly<LoginThrottlePolicy> = {
  windowMs: 15 * 60 * 1000,
  delayAfter: 5,
  refuseAfter: 10,
  baseDelayMs: 1000,
};

/**
 * For failures per address over every account tried from it. Laxer than the per-account policy,
 * because one address can be a whole office behind NAT; a guesser at one address is held to the
 * per-(account, address) policy anyway, so this bounds spraying many accounts.
 */
export const DEFAULT_ADDRESS_THROTTLE_POLICY: Readonly<LoginThrottlePolicy> = {
  windowMs: 15 * 60 * 1000,
  delayAfter: 20,
  refuseAfter: 30,
  baseDelayMs: 1000,
};

/** How long after the previous attempt the next is allowed, for a key with `failures` (< refuseAfter). */
export function attemptDelayMs(policy: LoginThrottlePolicy, failures: number): number {
  if (failures < policy.delayAfter) return 0;
  return Math.min(policy.baseDelayMs * 2 ** (failures - policy.delayAfter), policy.windowMs);
}

export function decision(waitMs: number): LoginThrottleDecision {
  return waitMs > 0
    ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
    : { allowed: true, retryAfterSeconds: 0 };
}
