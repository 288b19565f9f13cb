import type { PendingRevocation, RevocationBacklog } from '../../domain/identity/ports.js';
import type { SqlExecutor } from '../executor.js';
import { inScope, NO_TENANT } from './row-scope.js';

// Revoked twice while Redis is away: the later `until` is the one that covers every token.
const ADD = `
  insert into revocation_backlog (session_id, revoked_until)
  select id, $2 from unnest($1::text[]) as ids(id)
  on conflict (session_id) do update
    set revoked_until = greatest(revocation_backlog.revoked_until, excluded.revoked_until)`;

const PENDING = `
  select session_id, revoked_until from revocation_backlog
  where revoked_until > statement_timestamp()
  order by created_at, session_id
  limit $1`;

// A row re-added with a later `until` while it was being published stays for the next round.
const REMOVE = `
  delete from revocation_backlog b
  using unnest($1::text[], $2::timestamptz[]) as published(id, until)
  where (b.session_id = published.id and b.revoked_until <= published.until)
    or b.revoked_until <= statement_timestamp()`;

interface BacklogRow {
  session_id: string;
  revoked_until: Date;
}

/** The revocation backlog in the `revocation_backlog` table (migration 006). */
export class SqlRevocationBacklog implements RevocationBacklog {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async add(sessionIds: string[], until: Date): Promise<void> {
    if (sessionIds.length === 0) return;
    await inScope(this.#db, NO_TENANT, (session) => session.query(ADD, [sessionIds, until]));
  }

  async pending(limit: number): Promise<PendingRevocation[]> {
    const { rows } = await inScope(
      this.#db,
      NO_TENANT,
      (session) => session.query<BacklogRow>(PENDING, [limit]),
      { readOnly: true },
    );
    return rows.map((row) => ({ sessionId: row.session_id, until: new Date(row.revoked_until) }));
  }

  async remove(published: PendingRevocation[]): Promise<void> {
    if (published.length === 0) return;
    await inScope(this.#db, NO_TENANT, (session) =>
      session.query(REMOVE, [
        published.map((entry) => entry.sessionId),
        published.map((entry) => entry.until.toISOString()),
      ]),
    );
  }
}
