import type {
  IdempotencyBegin,
  IdempotencyStore,
  StoredResponse,
} from '../../domain/identity/ports.js';
import type { SqlExecutor } from '../executor.js';
import { inScope, NO_TENANT } from './row-scope.js';

// One statement claims the key: a new key is inserted, an expired record is replaced in place
// (under the row lock ON CONFLICT takes), a live one is left alone and nothing is returned.
const CLAIM = `
  insert into idempotency_keys as existing (scope, key, request_hash, state, expires_at)
  values ($1, $2, $3, 'in_progress', now() + interval '24 hours')
  on conflict (scope, key) do update
    set request_hash = excluded.request_hash, state = 'in_progress', response_status = null,
      response_headers = null, response_body = null, created_at = now(),
      expires_at = excluded.expires_at
    where existing.expires_at <= now()
  returning 1`;

const READ = `
  select request_hash, state, response_status, response_headers, response_body
  from idempotency_keys where scope = $1 and key = $2`;

const COMPLETE = `
  update idempotency_keys
  set state = 'completed', response_status = $3, response_headers = $4::jsonb, response_body = $5
  where scope = $1 and key = $2 and state = 'in_progress'`;

const RELEASE = `
  delete from idempotency_keys where scope = $1 and key = $2 and state = 'in_progress'`;

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
 * Idempotency-Key records. Not behind row-level security: the scope string names the principal,
 * which already confines a record to its owner, and the platform admin has no tenant to filter on.
 * Runs as the application role all the same, seeing no tenant rows.
 */
export class SqlIdempotencyStore implements IdempotencyStore {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async begin(scope: string, key: string, requestHash: string): Promise<IdempotencyBegin> {
    return await inScope(this.#db, NO_TENANT, async (session) => {
      for (let round = 0; round < CLAIM_ROUNDS; round += 1) {
        const claimed = await session.query(CLAIM, [scope, key, requestHash]);
        if (claimed.rowCount > 0) return { state: 'started' };
        const { rows } = await session.query<RecordRow>(READ, [scope, key]);
        const [row] = rows;
        if (row) return outcomeOf(row, requestHash);
      }
      return { state: 'in_progress' };
    });
  }

  async complete(scope: string, key: string, response: StoredResponse): Promise<void> {
    await inScope(this.#db, NO_TENANT, async (session) => {
      await session.query(COMPLETE, [
        scope,
        key,
        response.status,
        JSON.stringify(response.headers),
        response.body,
      ]);
    });
  }

  async release(scope: string, key: string): Promise<void> {
    await inScope(this.#db, NO_TENANT, async (session) => {
      await session.query(RELEASE, [scope, key]);
    });
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
