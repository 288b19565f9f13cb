import type { IdentityStore, TenantResource, TenantStore } from '../../domain/identity/ports.js';
import type {
  ApiKey,
  Organization,
  Page,
  PageRequest,
  RefreshToken,
  Session,
  User,
} from '../../domain/identity/model.js';
import { SCOPES } from '../../domain/principal.js';
import type { SqlExecutor } from '../executor.js';
import { newId } from '../ids.js';
import { IDENTITY_CONSTRAINTS } from './identity-constraints.js';
import {
  API_KEY_COLUMNS,
  ORGANIZATION_COLUMNS,
  REFRESH_TOKEN_COLUMNS,
  SESSION_COLUMNS,
  toApiKey,
  toOrganization,
  toRefreshToken,
  toSession,
  toUser,
  USER_COLUMNS,
} from './identity-rows.js';
import type {
  ApiKeyRow,
  OrganizationRow,
  RefreshTokenRow,
  SessionRow,
  UserRow,
} from './identity-rows.js';
import { keysetPage } from './keyset-page.js';
import { LatchedSession } from './latched-session.js';
import { CROSS_TENANT, inScope, tenant } from './row-scope.js';
import { onlyRow } from './row-values.js';
import { isUniqueViolation, translateViolation } from './sql-errors.js';
import { SqlTenantStore } from './tenant-store.js';

const ORGANIZATION_OF: Readonly<Record<TenantResource, string>> = {
  user: 'select organization_id from users where id = $1',
  session: 'select organization_id from sessions where id = $1',
  api_key: 'select organization_id from api_keys where id = $1 and revoked_at is null',
};

const PLATFORM_ADMIN_KEY_NAME = 'Platform admin (ADMIN_API_KEY)';

const UPSERT_PLATFORM_ADMIN_KEY = `
  insert into api_keys (id, organization_id, user_id, name, prefix, secret_hash, scopes,
    platform_admin)
  values ($1, null, null, $2, $3, $4, $5, true)
  on conflict (platform_admin) where platform_admin do update
    set prefix = excluded.prefix, secret_hash = excluded.secret_hash, scopes = excluded.scopes,
      expires_at = null, revoked_at = null`;

/**
 * Identity storage on either engine. Every method runs in its own transaction as the application
 * role (see row-scope.ts). Those marked "cross-tenant" see every organization's rows, each for the
 * reason given; the others are confined to one organization by the database.
 */
export class SqlIdentityStore implements IdentityStore {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Runs as the new organization itself, so it needs no cross-tenant access. */
  async createOrganization(input: { name: string }): Promise<Organization> {
    const id = newId('org');
    return await inScope(this.#db, tenant(id), async (session) => {
      try {
        const { rows } = await session.query<OrganizationRow>(
          `insert into organizations (id, name) values ($1, $2) returning ${ORGANIZATION_COLUMNS}`,
          [id, input.name],
        );
        return toOrganization(onlyRow(rows, 'INSERT … RETURNING'));
      } catch (error) {
        throw translateViolation(error, IDENTITY_CONSTRAINTS);
      }
    });
  }

  /** Cross-tenant: the platform admin's list of every organization. */
  async listOrganizations(page: PageRequest): Promise<Page<Organization>> {
    return await inScope(
      this.#db,
      CROSS_TENANT,
      (session) =>
        keysetPage(
          session,
          {
            select: `select ${ORGANIZATION_COLUMNS} from organizations`,
            where: ['true'],
            params: [],
          },
          page,
          toOrganization,
        ),
      { readOnly: true },
    );
  }

  /** Runs as the organization asked for: it sees its own row and nothing else. */
  async getOrganization(id: string): Promise<Organization | null> {
    // '' is "no tenant" to the policies, not an organization to run as.
    if (id === '') return null;
    return await inScope(
      this.#db,
      tenant(id),
      async (session) => {
        const { rows } = await session.query<OrganizationRow>(
          `select ${ORGANIZATION_COLUMNS} from organizations where id = $1`,
          [id],
        );
        return rows[0] ? toOrganization(rows[0]) : null;
      },
      { readOnly: true },
    );
  }

  /** Cross-tenant: sign-in knows an email, not yet the organization. */
  async findUserByEmail(email: string): Promise<User | null> {
    return await inScope(
      this.#db,
      CROSS_TENANT,
      async (session) => {
        const { rows } = await session.query<UserRow>(
          `select ${USER_COLUMNS} from users where lower(email) = lower($1)`,
          [email.toLowerCase()],
        );
        return rows[0] ? toUser(rows[0]) : null;
      },
      { readOnly: true },
    );
  }

  /**
   * Cross-tenant: the presented key names no organization (and the platform-admin key has none).
   * Revoked and expired keys are returned too: the caller decides and can say why.
   */
  async findApiKeyByPrefix(prefix: string): Promise<ApiKey | null> {
    return await inScope(
      this.#db,
      CROSS_TENANT,
      async (session) => {
        const { rows } = await session.query<ApiKeyRow>(
          `select ${API_KEY_COLUMNS} from api_keys where prefix = $1`,
          [prefix],
        );
        return rows[0] ? toApiKey(rows[0]) : null;
      },
      { readOnly: true },
    );
  }

  /** Cross-tenant: a refresh token is opaque; its row is what tells the organization. */
  async findRefreshToken(tokenHash: string): Promise<RefreshToken | null> {
    return await inScope(
      this.#db,
      CROSS_TENANT,
      async (session) => {
        const { rows } = await session.query<RefreshTokenRow>(
          `select ${REFRESH_TOKEN_COLUMNS} from refresh_tokens where token_hash = $1`,
          [tokenHash],
        );
        return rows[0] ? toRefreshToken(rows[0]) : null;
      },
      { readOnly: true },
    );
  }

  /**
   * Cross-tenant: the platform-admin key belongs to no organization. One statement against the
   * partial unique index, so instances starting together end up with one key, not an error. A new
   * ADMIN_API_KEY replaces the old one's secret and un-revokes the row.
   */
  async upsertPlatformAdminKey(input: { prefix: string; secretHash: string }): Promise<void> {
    const upsert = (): Promise<unknown> =>
      inScope(this.#db, CROSS_TENANT, (session) =>
        session.query(UPSERT_PLATFORM_ADMIN_KEY, [
          newId('key'),
          PLATFORM_ADMIN_KEY_NAME,
          input.prefix,
          input.secretHash,
          SCOPES,
        ]),
      );
    try {
      try {
        await upsert();
      } catch (error) {
        // Two first-time inserts racing: the loser may trip over the other's prefix before the
        // platform_admin conflict that would turn it into an update. Once more finds the row.
        if (!isUniqueViolation(error, 'api_keys_prefix_key')) throw error;
        await upsert();
      }
    } catch (error) {
      throw translateViolation(error, IDENTITY_CONSTRAINTS);
    }
  }

  /**
   * Cross-tenant, like the upsert. Revoked rather than deleted, so the row keeps its history
   * (last_used_at) and setting ADMIN_API_KEY again brings the same row back.
   */
  async revokePlatformAdminKey(at: Date): Promise<boolean> {
    const { rowCount } = await inScope(this.#db, CROSS_TENANT, (session) =>
      session.query(
        'update api_keys set revoked_at = $1 where platform_admin and revoked_at is null',
        [at],
      ),
    );
    return rowCount > 0;
  }

  /**
   * Cross-tenant: called with nothing but the session id from a verified access token, on every
   * request, as one primary-key lookup.
   */
  async getSessionForAuth(sessionId: string): Promise<Session | null> {
    return await inScope(
      this.#db,
      CROSS_TENANT,
      async (session) => {
        const { rows } = await session.query<SessionRow>(
          `select ${SESSION_COLUMNS} from sessions where id = $1`,
          [sessionId],
        );
        return rows[0] ? toSession(rows[0]) : null;
      },
      { readOnly: true },
    );
  }

  /**
   * Cross-tenant: a platform admin belongs to no organization and names a resource by id only;
   * the answer is what the caller then passes to inTenant. A revoked key counts as gone, as in
   * getApiKey; the platform-admin key has no organization (null).
   */
  async organizationOf(resource: TenantResource, id: string): Promise<string | null> {
    return await inScope(
      this.#db,
      CROSS_TENANT,
      async (session) => {
        const { rows } = await session.query<{ organization_id: string | null }>(
          ORGANIZATION_OF[resource],
          [id],
        );
        return rows[0]?.organization_id ?? null;
      },
      { readOnly: true },
    );
  }

  /** Cross-tenant: the key may be the platform-admin key, which has no organization. */
  async touchApiKey(id: string, at: Date): Promise<void> {
    await inScope(this.#db, CROSS_TENANT, async (session) => {
      await session.query('update api_keys set last_used_at = $2 where id = $1', [id, at]);
    });
  }

  /**
   * A statement that fails aborts the transaction; if `fn` caught its error and returned anyway,
   * that error is rethrown here rather than reporting a commit that did not happen.
   */
  async inTenant<T>(organizationId: string, fn: (tx: TenantStore) => Promise<T>): Promise<T> {
    return await inScope(this.#db, tenant(organizationId), async (session) => {
      const latched = new LatchedSession(session);
      const result = await fn(new SqlTenantStore(latched, organizationId));
      if (latched.failure) throw translateViolation(latched.failure.error, IDENTITY_CONSTRAINTS);
      return result;
    });
  }
}
