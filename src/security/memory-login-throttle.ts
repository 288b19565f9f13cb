import type { LoginThrottle, LoginThrottleDecision } from '../domain/identity/ports.js';
import {
  attemptDelayMs,
  decision,
  DEFAULT_LOGIN_THROTTLE_POLICY,
  type LoginThrottlePolicy,
} from '../domain/identity/login-throttle-policy.js';

interface Entry {
  failures: number;
  /** Checked attempts not yet resolved by recordFailure or reset. */
  pending: number;
  lastAttemptMs: number;
  expiresAtMs: number;
}

export interface MemoryLoginThrottleOptions {
  policy?: LoginThrottlePolicy;
  now?: () => number;
}

// Expired entries are dropped on access; a full sweep every so many writes bounds the memory an
// attacker cycling through addresses can pin to one window's worth.
const SWEEP_EVERY = 1024;

/** The LoginThrottle policy (see login-throttle-policy.ts) for a single instance without Redis. */
export class MemoryLoginThrottle implements LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly policy: LoginThrottlePolicy;
  private readonly now: () => number;
  private writes = 0;

  constructor(options: MemoryLoginThrottleOptions = {}) {
    this.policy = options.policy ?? DEFAULT_LOGIN_THROTTLE_POLICY;
    this.now = options.now ?? Date.now;
  }

  async check(keys: string[]): Promise<LoginThrottleDecision> {
    const now = this.now();
    const unique = [...new Set(keys)];
    let waitMs = 0;
    for (const key of unique) {
      const entry = this.live(key, now);
      if (entry === undefined) continue;
      const failures = entry.failures + entry.pending;
      const wait =
        failures >= this.policy.refuseAfter
          ? entry.expiresAtMs - now
          : entry.lastAttemptMs + attemptDelayMs(this.policy, failures) - now;
      waitMs = Math.max(waitMs, wait);
    }
    if (waitMs > 0) return decision(waitMs);
    for (const key of unique) this.touch(key, now).pending += 1;
    return decision(0);
  }

  async recordFailure(keys: string[]): Promise<void> {
    const now = this.now();
    for (const key of new Set(keys)) {
      const entry = this.touch(key, now);
      entry.failures += 1;
      entry.pending = Math.max(0, entry.pending - 1);
    }
  }

  async release(keys: string[]): Promise<void> {
    const now = this.now();
    for (const key of new Set(keys)) {
      const entry = this.live(key, now);
      if (entry !== undefined) entry.pending = Math.max(0, entry.pending - 1);
    }
  }

  async reset(keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAtMs <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The key's entry with this attempt recorded as its latest, created when absent. */
  private touch(key: string, now: number): Entry {
    this.writes += 1;
    if (this.writes % SWEEP_EVERY === 0) this.sweep(now);
    const entry = this.live(key, now) ?? {
      failures: 0,
      pending: 0,
      lastAttemptMs: now,
      expiresAtMs: 0,
    };
    entry.lastAttemptMs = now;
    entry.expiresAtMs = now + this.policy.windowMs;
    this.entries.set(key, entry);
    return entry;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAtMs <= now) this.entries.delete(key);
  }
}
