import { createHash } from 'node:crypto';
import { AppError, validationError } from '../errors.js';
import type { IdempotencyStore, StoredResponse } from '../identity/ports.js';
import type { Principal } from '../principal.js';

const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

export type IdempotencyOutcome = { kind: 'proceed' } | { kind: 'replay'; response: StoredResponse };

/**
 * Idempotency-Key: the first response to (principal, key) is kept 24 hours and replayed; the
 * same key with another request is refused, and a duplicate racing the first waits its turn.
 */
export class IdempotencyService {
  constructor(private readonly store: IdempotencyStore) {}

  private scopeOf(principal: Principal): string {
    return principal.kind === 'platform_admin'
      ? `admin:${principal.id}`
      : `user:${principal.userId}`;
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
    const result = await this.store.begin(this.scopeOf(principal), key, fingerprint);
    switch (result.state) {
      case 'started':
        return { kind: 'proceed' };
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

  async finish(principal: Principal, key: string, response: StoredResponse): Promise<void> {
    const scope = this.scopeOf(principal);
    // A server failure is not an answer worth replaying: let the retry act.
    if (response.status >= 500) await this.store.release(scope, key);
    else await this.store.complete(scope, key, response);
  }
}
