import { AppError } from '../errors.js';
import { silentObserver, type InferenceObserver } from '../observability.js';
import type { RateLimitSetting } from '../identity/model.js';
import type { Principal } from '../principal.js';
import type { BucketLimit, RateLimitDecision, RateLimitStore, WindowLimit } from './ports.js';

export interface RateLimitPolicy {
  enabled: boolean;
  /** Per credential (a key's own `rate_limit` wins) and per user. */
  defaults: RateLimitSetting;
  /** An organization gets this many times the defaults, shared by all its users and keys. */
  organizationMultiplier: number;
  /** Requests per minute per client address, for sign-in and for failed authentication. */
  addressRequestsPerMinute: number;
}

/** The numbers a response's X-RateLimit-* headers report: the credential's own request limit. */
export interface RateLimitHeaders {
  limit: number;
  remaining: number;
  resetAtMs: number;
}

export interface AdmissionResult {
  headers: RateLimitHeaders | null;
}

function credentialKey(principal: Principal): string {
  const { credential } = principal;
  return credential.type === 'api_key' ? `key:${credential.keyId}` : `user:${principal.id}`;
}

/**
 * Which limits apply to whom. Requests: a token bucket per credential, per user and per
 * organization. Tokens: a sliding window with the same owners, reserved at admission from the
 * prompt plus max_tokens, settled to the real count when the response ends.
 */
export class RateLimitService {
  constructor(
    private readonly store: RateLimitStore,
    private readonly policy: RateLimitPolicy,
    private readonly observer: InferenceObserver = silentObserver,
  ) {}

  private owners(principal: Principal): { key: string; rpm: number; tpm: number }[] {
    const { defaults, organizationMultiplier } = this.policy;
    const own = principal.rateLimit ?? defaults;
    const owners = [
      { key: credentialKey(principal), rpm: own.requestsPerMinute, tpm: own.tokensPerMinute },
    ];
    if (principal.kind === 'user') {
      if (principal.credential.type === 'api_key') {
        owners.push({
          key: `user:${principal.userId}`,
          rpm: defaults.requestsPerMinute,
          tpm: defaults.tokensPerMinute,
        });
      }
      owners.push({
        key: `org:${principal.organizationId}`,
        rpm: defaults.requestsPerMinute * organizationMultiplier,
        tpm: defaults.tokensPerMinute * organizationMultiplier,
      });
    }
    return owners;
  }

  /** Charges one request; throws RATE_LIMITED (with Retry-After) when any bucket is empty. */
  async admitRequest(principal: Principal): Promise<RateLimitHeaders | null> {
    if (!this.policy.enabled) return null;
    const buckets: BucketLimit[] = this.owners(principal).map((o) => ({
      key: `rpm:${o.key}`,
      perMinute: o.rpm,
    }));
    const decision = await this.store.takeRequest(buckets);
    const headers = headersOf(decision);
    if (!decision.allowed) {
      this.observer.rateLimited('requests');
      throw limited('requests', decision, headers, 'Too many requests');
    }
    return headers;
  }

  /** Per client address: sign-in, refresh and requests whose credential was refused. */
  async admitAddress(address: string): Promise<RateLimitHeaders | null> {
    if (!this.policy.enabled) return null;
    const decision = await this.store.takeRequest([
      { key: `rpm:addr:${address}`, perMinute: this.policy.addressRequestsPerMinute },
    ]);
    const headers = headersOf(decision);
    if (!decision.allowed) {
      this.observer.rateLimited('address');
      throw limited('address', decision, headers, 'Too many requests from this address');
    }
    return headers;
  }

  private windows(principal: Principal): WindowLimit[] {
    return this.owners(principal).map((o) => ({ key: `tpm:${o.key}`, perMinute: o.tpm }));
  }

  /** Reserves the most a completion can use; returns a settle function for when it ends. */
  async reserveTokens(
    principal: Principal,
    amount: number,
    reservationId: string,
  ): Promise<(actual: number) => Promise<void>> {
    if (!this.policy.enabled) return async () => undefined;
    const windows = this.windows(principal);
    const decision = await this.store.reserve(windows, amount, reservationId);
    if (!decision.allowed) {
      this.observer.rateLimited('tokens');
      const state = decision.states.find((s) => s.key === decision.refusedBy);
      const tooBig = state !== undefined && amount > state.limit;
      throw limited(
        'tokens',
        decision,
        null,
        tooBig
          ? 'This request needs more tokens (prompt plus max_tokens) than your per-minute token limit'
          : 'Token rate limit exceeded',
      );
    }
    return (actual: number) => this.store.settle(windows, reservationId, actual);
  }
}

function headersOf(decision: RateLimitDecision): RateLimitHeaders | null {
  const own = decision.states[0];
  if (!own) return null;
  return { limit: own.limit, remaining: own.remaining, resetAtMs: own.resetAtMs };
}

// Bucket keys look like `rpm:org:<id>`; the log names the owner kind, not the id.
const OWNER_OF_KEY: Record<string, string> = {
  key: 'credential',
  user: 'user',
  org: 'organization',
  addr: 'address',
};

function limited(
  limit: 'requests' | 'tokens' | 'address',
  decision: RateLimitDecision,
  headers: RateLimitHeaders | null,
  message: string,
): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  const retryAfter = String(retryAfterSeconds);
  const ownerKind = decision.refusedBy?.split(':')[1] ?? '';
  return new AppError('RATE_LIMITED', {
    message,
    logFields: {
      limit,
      refused_by: OWNER_OF_KEY[ownerKind] ?? 'unknown',
      retry_after_s: retryAfterSeconds,
    },
    headers: {
      'retry-after': retryAfter,
      ...(headers ? rateLimitHeaderValues(headers) : {}),
    },
  });
}

export function rateLimitHeaderValues(headers: RateLimitHeaders): Record<string, string> {
  return {
    'x-ratelimit-limit': String(headers.limit),
    'x-ratelimit-remaining': String(headers.remaining),
    'x-ratelimit-reset': String(Math.ceil(headers.resetAtMs / 1000)),
  };
}
