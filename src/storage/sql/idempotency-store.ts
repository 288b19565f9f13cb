import { randomUUID } from 'node:crypto';
import type {
  IdempotencyBegin,
  IdempotencyStore,
  IdempotencyTimes,
  StoredResponse,
} from '../../domain/identity/ports.js';
import type { SqlExecutor } from '../executor.js';
import { inScope, NO_TENANT } from './row-scope.js';

// One statement claims the key: a new key is inserted, an expired record (a lapsed claim or an
// old response) is replaced in place under the row lock ON CONFLICT takes, and a live one is left
// alone and nothing is returned.
const CLAIM = `
  insert into idempotency_keys as existing
    (scope, key, request_hash, state, claim_token, expires_at)
  values ($1, $2, $3, 'in_progress', $4, now() + $5::integer * interval '1 second')
  on conflict (scope, key) do update
    set request_hash = excluded.request_hash, state = 'in_progress', response_status = null,
      response_headers = null, response_body = null, claim_token = excluded.claim_token,
      created_at = now(), expires_at = excluded.expires_at
    where existing.expires_at <= now()
  returning 1`;

const READ = `
  select request_hash, state, response_status, response_headers, response_body
  from idempotency_keys where scope = $1 and key = $2`;

// Retention counts from the first request, not from when its answer was ready.
const COMPLETE = `
  update idempotency_keys
  set state = 'completed', response_status = $4, response_headers = $5::jsonb,
    response_body = $6, expires_at = created_at + $7::integer * interval '1 second'
  where scope = $1 and key = $2 and claim_token = $3 and state = 'in_progress'`;

const RELEASE = `
  delete from idempotency_keys
  where scope = $1 and key = $2 and claim_token = $3 and state = 'in_progress'`;

// Through idempotency_keys_expires_at_idx. SKIP LOCKED: a record being claimed again right now is
// that claim's business, and instances purging together share the rows instead of queueing.
const PURGE_BATCH = `
  delete from idempotency_keys where (scope, key) in (
    select scope, key from idempotency_keys where expires_at <= now()
    order by expires_at
    limit $1
    for update skip locked)`;

// A record released between our failed claim and our read lets the next claim succeed; a few
// rounds settle any realistic interleaving.
const CLAIM_ROUNDS = 3;

interface RecordRow {
  request_hash: string;
  state: string;
  response_status: number | null;
  response_headers: unknown;
  response_body: string | null;
}

/**
 * Idempotency-Key records. Not behind row-level security: the scope string names the credential,
 * which already confines a record to its owner, and the platform admin has no tenant to filter on.
 * Runs as the application role all the same, seeing no tenant rows.
 */
export class SqlIdempotencyStore implements IdempotencyStore {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async begin(
    scope: string,
    key: string,
    requestHash: string,
    times: IdempotencyTimes,
  ): Promise<IdempotencyBegin> {
    const claim = randomUUID();
    return await inScope(this.#db, NO_TENANT, async (session) => {
      for (let round = 0; round < CLAIM_ROUNDS; round += 1) {
        const claimed = await session.query(CLAIM, [
          scope,
          key,
          requestHash,
          claim,
          times.leaseSeconds,
        ]);
        if (claimed.rowCount > 0) return { state: 'started', claim };
        const { rows } = await session.query<RecordRow>(READ, [scope, key]);
        const [row] = rows;
        if (row) return outcomeOf(row, requestHash);
      }
      return { state: 'in_progress' };
    });
  }

  async complete(
    scope: string,
    key: string,
    claim: string,
    response: StoredResponse,
    times: IdempotencyTimes,
  ): Promise<void> {
    await inScope(this.#db, NO_TENANT, async (session) => {
      await session.query(COMPLETE, [
        scope,
        key,
        claim,
        response.status,
        JSON.stringify(response.headers),
        response.body,
        times.retentionSeconds,
      ]);
    });
  }

  async release(scope: string, key: string, claim: string): Promise<void> {
    await inScope(this.#db, NO_TENANT, async (session) => {
      await session.query(RELEASE, [scope, key, claim]);
    });
  }

  async purgeExpired(options: {
    batchSize: number;
    signal?: AbortSignal;
  }): Promise<{ deleted: number }> {
    const { batchSize, signal } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    let deleted = 0;
    while (!signal?.aborted) {
      const { rowCount } = await inScope(this.#db, NO_TENANT, (session) =>
        session.query(PURGE_BATCH, [batchSize]),
      );
      deleted += rowCount;
      if (rowCount < batchSize) break;
    }
    return { deleted };
  }
}

function outcomeOf(row: RecordRow, requestHash: string): IdempotencyBegin {
  if (row.request_hash !== requestHash) return { state: 'mismatch' };
  if (row.state !== 'completed') return { state: 'in_progress' };
  // The CHECK constraint guarantees a completed record has all three.
  if (row.response_status === null || row.response_body === null) {
    throw new Error('Completed idempotency record without a response');
  }
  return {
    state: 'replay',
    response: {
      status: row.response_status,
      headers: headersOf(row.response_headers),
      body: row.response_body,
    },
  };
}

function headersOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('Stored idempotency response headers are not an object');
  }
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(value)) {
    if (typeof header !== 'string') {
      throw new Error(`Stored idempotency response header ${name} is not a string`);
    }
    headers[name] = header;
  }
  return headers;
}
