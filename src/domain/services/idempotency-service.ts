import { createHash } from 'node:crypto';
import { AppError, validationError } from '../errors.js';
import type { IdempotencyStore, IdempotencyTimes, StoredResponse } from '../identity/ports.js';
import type { Principal } from '../principal.js';

const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/**
 * The lease is as long as the longest routed attempt a non-streamed request may wait for (a
 * target's timeout_ms is at most ten minutes), so a live request keeps its key, yet short enough
 * that a key whose request died with its process is usable again within minutes rather than a
 * day. Responses are kept the 24 hours the contract promises.
 */
const TIMES: IdempotencyTimes = { leaseSeconds: 600, retentionSeconds: 24 * 60 * 60 };

// "Try again" answers are not outcomes: storing one would replay it to the very retry it asked for.
const RETRY_STATUSES = new Set([408, 425, 429]);

function isFinal(status: number): boolean {
  return status < 500 && !RETRY_STATUSES.has(status);
}

export type IdempotencyOutcome =
  { kind: 'proceed'; claim: string } | { kind: 'replay'; response: StoredResponse };

/**
 * Idempotency-Key: the first final response to (credential, key) is kept 24 hours and replayed;
 * the same key with another request is refused, and a duplicate racing the first waits its turn.
 */
export class IdempotencyService {
  readonly #store: IdempotencyStore;

  constructor(store: IdempotencyStore) {
    this.#store = store;
  }

  // The credential, not its user: a narrower key of the same user must not be handed what a
  // wider credential was allowed to do. An access token stands for its session, so a retry made
  // after refreshing the token still replays.
  private scopeOf(principal: Principal): string {
    const { credential } = principal;
    return credential.type === 'api_key'
      ? `api_key:${credential.keyId}`
      : `session:${credential.sessionId}`;
  }

  async begin(
    principal: Principal,
    key: string,
    request: { method: string; route: string; body: unknown },
  ): Promise<IdempotencyOutcome> {
    if (!KEY_FORMAT.test(key)) {
      throw validationError('Idempotency-Key', 'Must be 1 to 255 printable ASCII characters');
    }
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([request.method, request.route, request.body ?? null]))
      .digest('hex');
    const result = await this.#store.begin(this.scopeOf(principal), key, fingerprint, TIMES);
    switch (result.state) {
      case 'started':
        return { kind: 'proceed', claim: result.claim };
      case 'replay':
        return { kind: 'replay', response: result.response };
      case 'in_progress':
        throw new AppError('CONFLICT', {
          message: 'A request with this Idempotency-Key is still being processed',
          headers: { 'retry-after': '1' },
        });
      case 'mismatch':
        throw validationError('Idempotency-Key', 'Was already used with a different request');
    }
  }

  /** Keeps a final response for replay; forgets the claim otherwise, so the retry acts. */
  async finish(
    principal: Principal,
    key: string,
    claim: string,
    response: StoredResponse,
  ): Promise<void> {
    const scope = this.scopeOf(principal);
    if (isFinal(response.status)) {
      await this.#store.complete(scope, key, claim, response, TIMES);
    } else {
      await this.#store.release(scope, key, claim);
    }
  }
}
