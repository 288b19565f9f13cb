import type { NewApiKey, NewUser, TenantStore } from '../../domain/identity/ports.js';
import type {
  ApiKey,
  Page,
  PageRequest,
  RefreshToken,
  Role,
  Session,
  User,
} from '../../domain/identity/model.js';
import type { SqlParam, SqlSession } from '../executor.js';
import { newId } from '../ids.js';
import { IDENTITY_CONSTRAINTS } from './identity-constraints.js';
import {
  API_KEY_COLUMNS,
  REFRESH_TOKEN_COLUMNS,
  SESSION_COLUMNS,
  toApiKey,
  toRefreshToken,
  toSession,
  toUser,
  USER_COLUMNS,
} from './identity-rows.js';
import type { ApiKeyRow, RefreshTokenRow, SessionRow, UserRow } from './identity-rows.js';
import { keysetPage } from './keyset-page.js';
import { onlyRow } from './row-values.js';
import { translateViolation } from './sql-errors.js';

/**
 * The identity tables as one organization sees them, inside the transaction `inTenant` opened.
 *
 * Lookups by id carry no organization filter of their own: row-level security hides other
 * organizations' rows, and the tests rely on that to prove it does. Lists do repeat the filter,
 * only so the planner can use the (organization_id, created_at, id) indexes; the policy's OR with
 * the cross-tenant switch is not something an index scan can serve.
 */
export class SqlTenantStore implements TenantStore {
  readonly organizationId: string;
  /**
   * The transaction itself, for statements no method covers (other repositories joining the same
   * transaction, tests proving what row-level security lets through).
   */
  readonly session: SqlSession;

  constructor(session: SqlSession, organizationId: string) {
    this.session = session;
    this.organizationId = organizationId;
  }

  async createUser(input: NewUser): Promise<User> {
    const row = await this.#insert<UserRow>(
      `insert into users (id, organization_id, email, role, password_hash)
       values ($1, $2, $3, $4, $5)
       returning ${USER_COLUMNS}`,
      [
        newId('user'),
        this.organizationId,
        input.email.toLowerCase(),
        input.role,
        input.passwordHash,
      ],
    );
    return toUser(row);
  }

  async listUsers(page: PageRequest): Promise<Page<User>> {
    return await keysetPage(
      this.session,
      {
        select: `select ${USER_COLUMNS} from users`,
        where: ['organization_id = $1'],
        params: [this.organizationId],
      },
      page,
      toUser,
    );
  }

  async getUser(id: string): Promise<User | null> {
    const { rows } = await this.session.query<UserRow>(
      `select ${USER_COLUMNS} from users where id = $1`,
      [id],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  async updateUser(
    id: string,
    patch: { role?: Role; passwordHash?: string },
  ): Promise<User | null> {
    const { rows } = await this.session.query<UserRow>(
      `update users set role = coalesce($2, role), password_hash = coalesce($3, password_hash)
       where id = $1
       returning ${USER_COLUMNS}`,
      [id, patch.role ?? null, patch.passwordHash ?? null],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  /**
   * The user's sessions, refresh tokens and API keys go with the row (ON DELETE CASCADE), which
   * revokes them in this transaction; sessions cached elsewhere (Redis) are the caller's to revoke,
   * with revokeUserSessions before this. Usage records stay.
   */
  async deleteUser(id: string): Promise<boolean> {
    const { rowCount } = await this.session.query('delete from users where id = $1', [id]);
    return rowCount > 0;
  }

  /**
   * FOR UPDATE, not count(*): two transactions each demoting one of two admins would otherwise
   * both count two and leave none. The second now waits for the first to commit, and READ
   * COMMITTED then re-checks the locked rows, so it no longer counts the admin just demoted or
   * deleted. Locking in id order keeps two such transactions from deadlocking.
   */
  async countAdmins(): Promise<number> {
    const { rows } = await this.session.query<{ id: string }>(
      `select id from users where organization_id = $1 and role = 'admin' order by id for update`,
      [this.organizationId],
    );
    return rows.length;
  }

  async createSession(input: { userId: string; expiresAt: Date }): Promise<Session> {
    const row = await this.#insert<SessionRow>(
      `insert into sessions (id, organization_id, user_id, expires_at)
       values ($1, $2, $3, $4)
       returning ${SESSION_COLUMNS}`,
      [newId('sess'), this.organizationId, input.userId, input.expiresAt],
    );
    return toSession(row);
  }

  /** Active sessions only (neither revoked nor expired), as the contract lists them. */
  async listSessions(userId: string, page: PageRequest): Promise<Page<Session>> {
    return await keysetPage(
      this.session,
      {
        select: `select ${SESSION_COLUMNS} from sessions`,
        where: [
          'organization_id = $1',
          'user_id = $2',
          'revoked_at is null',
          'expires_at > statement_timestamp()',
        ],
        params: [this.organizationId, userId],
      },
      page,
      toSession,
    );
  }

  /** Revoked and expired sessions too: the caller tells them apart. */
  async getSession(id: string): Promise<Session | null> {
    const { rows } = await this.session.query<SessionRow>(
      `select ${SESSION_COLUMNS} from sessions where id = $1`,
      [id],
    );
    return rows[0] ? toSession(rows[0]) : null;
  }

  async touchSession(id: string, at: Date): Promise<void> {
    await this.session.query('update sessions set last_used_at = $2 where id = $1', [id, at]);
  }

  async revokeSession(id: string): Promise<string[]> {
    return await this.#revokeSessions('id = $1', id);
  }

  async revokeUserSessions(userId: string): Promise<string[]> {
    return await this.#revokeSessions('user_id = $1', userId);
  }

  async insertRefreshToken(input: {
    tokenHash: string;
    sessionId: string;
    userId: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.#insert(
      `insert into refresh_tokens (token_hash, session_id, organization_id, user_id, expires_at)
       values ($1, $2, $3, $4, $5)
       returning token_hash`,
      [input.tokenHash, input.sessionId, this.organizationId, input.userId, input.expiresAt],
    );
  }

  /**
   * One conditional UPDATE: of concurrent spends of one token, exactly one finds spent_at null.
   * Expiry is the caller's to check on the returned token.
   */
  async spendRefreshToken(tokenHash: string, at: Date): Promise<RefreshToken | null> {
    const { rows } = await this.session.query<RefreshTokenRow>(
      `update refresh_tokens set spent_at = $2
       where token_hash = $1 and spent_at is null
       returning ${REFRESH_TOKEN_COLUMNS}`,
      [tokenHash, at],
    );
    return rows[0] ? toRefreshToken(rows[0]) : null;
  }

  async createApiKey(input: NewApiKey): Promise<ApiKey> {
    const row = await this.#insert<ApiKeyRow>(
      `insert into api_keys (id, organization_id, user_id, name, prefix, secret_hash, scopes,
         expires_at, rate_limit_rpm, rate_limit_tpm)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       returning ${API_KEY_COLUMNS}`,
      [
        newId('key'),
        this.organizationId,
        input.userId,
        input.name,
        input.prefix,
        input.secretHash,
        input.scopes,
        input.expiresAt,
        input.rateLimit?.requestsPerMinute ?? null,
        input.rateLimit?.tokensPerMinute ?? null,
      ],
    );
    return toApiKey(row);
  }

  /** Expired keys are listed (they show their expiry); revoked ones are gone. */
  async listApiKeys(filter: { userId?: string }, page: PageRequest): Promise<Page<ApiKey>> {
    const where = ['organization_id = $1', 'revoked_at is null'];
    const params: SqlParam[] = [this.organizationId];
    if (filter.userId !== undefined) {
      params.push(filter.userId);
      where.push(`user_id = $${params.length}`);
    }
    return await keysetPage(
      this.session,
      { select: `select ${API_KEY_COLUMNS} from api_keys`, where, params },
      page,
      toApiKey,
    );
  }

  /** A revoked key is as good as gone: null. */
  async getApiKey(id: string): Promise<ApiKey | null> {
    const { rows } = await this.session.query<ApiKeyRow>(
      `select ${API_KEY_COLUMNS} from api_keys where id = $1 and revoked_at is null`,
      [id],
    );
    return rows[0] ? toApiKey(rows[0]) : null;
  }

  /** False when the key is unknown or was already revoked. */
  async revokeApiKey(id: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.session.query(
      'update api_keys set revoked_at = $2 where id = $1 and revoked_at is null',
      [id, at],
    );
    return rowCount > 0;
  }

  async revokeUserApiKeys(userId: string, at: Date): Promise<void> {
    await this.session.query(
      'update api_keys set revoked_at = $2 where user_id = $1 and revoked_at is null',
      [userId, at],
    );
  }

  async #revokeSessions(condition: string, value: string): Promise<string[]> {
    const { rows } = await this.session.query<{ id: string }>(
      `update sessions set revoked_at = statement_timestamp()
       where ${condition} and revoked_at is null
       returning id`,
      [value],
    );
    return rows.map((row) => row.id);
  }

  async #insert<Row extends object>(sql: string, params: SqlParam[]): Promise<Row> {
    try {
      const { rows } = await this.session.query<Row>(sql, params);
      return onlyRow(rows, 'INSERT … RETURNING');
    } catch (error) {
      throw translateViolation(error, IDENTITY_CONSTRAINTS);
    }
  }
}
