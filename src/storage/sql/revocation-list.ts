import type { RevocationList } from '../../domain/identity/ports.js';
import type { SqlExecutor } from '../executor.js';
import { CROSS_TENANT, inScope } from './row-scope.js';

// A session is revoked when its row says so, has expired, or is gone (its user was deleted).
const IS_SESSION_LIVE = `
  select 1 from sessions
  where id = $1 and revoked_at is null and expires_at > statement_timestamp()`;

/**
 * Revocation read straight from the sessions table, for deployments without a shared cache: the
 * table is already visible to every instance on the next request.
 */
export class DatabaseRevocationList implements RevocationList {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Nothing to do: the tenant store revoked the session rows in the request that revoked them. */
  async revokeSessions(_sessionIds: string[], _until: Date): Promise<void> {
    // Intentionally empty.
  }

  /** Cross-tenant: asked with a session id only, on every request; one primary-key lookup. */
  async isSessionRevoked(sessionId: string): Promise<boolean> {
    const { rowCount } = await inScope(
      this.#db,
      CROSS_TENANT,
      (session) => session.query(IS_SESSION_LIVE, [sessionId]),
      { readOnly: true },
    );
    return rowCount === 0;
  }
}
