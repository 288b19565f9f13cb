import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantStore } from '../../../src/domain/identity/ports.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor, SqlSession } from '../../../src/storage/executor.js';
import { APP_ROLE, CROSS_TENANT, inScope, NO_TENANT } from '../../../src/storage/sql/row-scope.js';
import { SqlTenantStore } from '../../../src/storage/sql/tenant-store.js';
import { engines } from './engines.js';
import type { Engine, StorageHarness } from './engines.js';
import {
  inOneHour,
  newApiKey,
  newUser,
  openWithExecutor,
  seedOrganization,
} from './identity-fixtures.js';

/** The transaction behind a TenantStore, to send SQL no method would ever send. */
function rawSession(tx: TenantStore): SqlSession {
  if (!(tx instanceof SqlTenantStore)) throw new Error('expected the SQL tenant store');
  return tx.session;
}

const TENANT_TABLES = [
  'users',
  'sessions',
  'refresh_tokens',
  'api_keys',
  'usage_records',
  'usage_daily',
];

interface Tenant {
  organizationId: string;
  userIds: string[];
}

function rowLevelSecuritySuite(engine: Engine): void {
  let harness: StorageHarness;
  let storage: Storage;
  let executor: SqlExecutor;
  let orgA: Tenant;
  let orgB: Tenant;

  /** Two users, each with a session, a refresh token and an API key, plus one usage record. */
  async function seedTenant(): Promise<Tenant> {
    const { organization, admin } = await seedOrganization(storage);
    const userIds = await storage.identity.inTenant(organization.id, async (tx) => {
      const member = await tx.createUser(newUser());
      for (const user of [admin, member]) {
        const session = await tx.createSession({ userId: user.id, expiresAt: inOneHour() });
        await tx.insertRefreshToken({
          tokenHash: randomBytes(32).toString('hex'),
          sessionId: session.id,
          userId: user.id,
          expiresAt: inOneHour(),
        });
        await tx.createApiKey(newApiKey(user.id));
      }
      await rawSession(tx).query(
        `insert into usage_records (id, completion_id, request_id, principal_id, model, endpoint,
           prompt_tokens, completion_tokens, outcome, duration_ms, stream, organization_id)
         values ($1, $1, $1, $2, 'm', 'completions', 0, 0, 'completed', 0, false, $3)`,
        [`usage_${randomBytes(8).toString('hex')}`, admin.id, organization.id],
      );
      return [admin.id, member.id];
    });
    return { organizationId: organization.id, userIds };
  }

  /** As the connecting (superuser) role, outside any policy. */
  async function countOf(table: string, organizationId: string): Promise<number> {
    const { rows } = await executor.query<{ count: number }>(
      `select count(*)::int as count from ${table} where organization_id = $1`,
      [organizationId],
    );
    return rows[0]?.count ?? -1;
  }

  beforeAll(async () => {
    harness = await engine.create();
    ({ storage, executor } = await openWithExecutor(harness));
    orgA = await seedTenant();
    orgB = await seedTenant();
    // A row of no tenant at all: usage of the platform admin.
    await storage.usage.record({
      completionId: `cmpl-${randomBytes(8).toString('hex')}`,
      requestId: `req_${randomBytes(8).toString('hex')}`,
      principalId: 'platform-admin',
      organizationId: null,
      model: 'local-echo',
      endpoint: 'completions',
      promptTokens: 1,
      completionTokens: 1,
      outcome: 'completed',
      durationMs: 1,
      stream: false,
    });
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('runs tenant transactions as a role that is neither superuser nor BYPASSRLS', async () => {
    const role = await storage.identity.inTenant(orgA.organizationId, async (tx) => {
      const { rows } = await rawSession(tx).query<{
        current_user: string;
        rolsuper: boolean;
        rolbypassrls: boolean;
        organization_id: string;
        cross_tenant: string;
      }>(
        `select current_user, rolsuper, rolbypassrls,
           current_setting('app.organization_id') as organization_id,
           current_setting('app.cross_tenant') as cross_tenant
         from pg_roles where rolname = current_user`,
      );
      return rows[0];
    });
    expect(role).toEqual({
      current_user: APP_ROLE,
      rolsuper: false,
      rolbypassrls: false,
      organization_id: orgA.organizationId,
      cross_tenant: 'off',
    });
    // Transaction-local: the pooled connection is back to the connecting role afterwards.
    const { rows } = await executor.query<{ current_user: string }>('select current_user');
    expect(rows[0]?.current_user).not.toBe(APP_ROLE);

    const { rows: tables } = await executor.query<{ relname: string; forced: boolean }>(
      `select relname, relrowsecurity and relforcerowsecurity as forced from pg_class
       where relname = any($1::text[]) order by relname`,
      [[...TENANT_TABLES, 'organizations']],
    );
    expect(tables.every((table) => table.forced)).toBe(true);
    expect(tables).toHaveLength(TENANT_TABLES.length + 1);
  });

  it("sees only its own organization's rows in a SELECT without a WHERE clause", async () => {
    const seen = await storage.identity.inTenant(orgA.organizationId, async (tx) => {
      const counts: Record<string, string[]> = {};
      for (const table of TENANT_TABLES) {
        const { rows } = await rawSession(tx).query<{ organization_id: string | null }>(
          `select * from ${table}`,
        );
        counts[table] = rows.map((row) => row.organization_id ?? 'null');
      }
      const { rows } = await rawSession(tx).query<{ id: string }>('select * from organizations');
      counts.organizations = rows.map((row) => row.id);
      return counts;
    });

    for (const table of TENANT_TABLES) {
      const expected = await countOf(table, orgA.organizationId);
      expect(expected).toBeGreaterThan(0);
      expect(seen[table]).toEqual(Array.from({ length: expected }, () => orgA.organizationId));
    }
    expect(seen.organizations).toEqual([orgA.organizationId]);
  });

  it('updates and deletes only its own rows when the statement has no tenant filter', async () => {
    const before = {
      sessionsA: await countOf('sessions', orgA.organizationId),
      sessionsB: await countOf('sessions', orgB.organizationId),
      keysB: await countOf('api_keys', orgB.organizationId),
    };
    const changed = await storage.identity.inTenant(orgA.organizationId, async (tx) => {
      const session = rawSession(tx);
      const updated = await session.query(`update users set role = 'viewer'`);
      const revoked = await session.query('update api_keys set revoked_at = now()');
      const deleted = await session.query('delete from sessions');
      return [updated.rowCount, revoked.rowCount, deleted.rowCount];
    });
    expect(changed).toEqual([orgA.userIds.length, orgA.userIds.length, before.sessionsA]);

    const { rows } = await executor.query<{ role: string }>(
      'select role from users where organization_id = $1',
      [orgB.organizationId],
    );
    expect(rows.map((row) => row.role).sort()).toEqual(['admin', 'member']);
    expect(await countOf('sessions', orgB.organizationId)).toBe(before.sessionsB);
    expect(await countOf('sessions', orgA.organizationId)).toBe(0);
    const { rows: liveKeysB } = await executor.query<{ count: number }>(
      'select count(*)::int as count from api_keys where organization_id = $1 and revoked_at is null',
      [orgB.organizationId],
    );
    expect(liveKeysB[0]?.count).toBe(before.keysB);
  });

  it("refuses to write a row carrying another organization's id (WITH CHECK)", async () => {
    const insert = storage.identity.inTenant(orgA.organizationId, (tx) =>
      rawSession(tx).query(
        `insert into users (id, organization_id, email, role, password_hash)
         values ($1, $2, $3, 'admin', 'x')`,
        [`user_${randomBytes(8).toString('hex')}`, orgB.organizationId, newUser().email],
      ),
    );
    await expect(insert).rejects.toMatchObject({ code: '42501' });
    await expect(insert).rejects.toThrow(/row-level security/);

    // Nor move one of its own rows over to the other organization.
    const move = storage.identity.inTenant(orgA.organizationId, (tx) =>
      rawSession(tx).query('update usage_records set organization_id = $1', [orgB.organizationId]),
    );
    await expect(move).rejects.toMatchObject({ code: '42501' });
    expect(await countOf('usage_records', orgA.organizationId)).toBe(1);
  });

  it('shows no tenant rows to the application role without an organization', async () => {
    const withoutSetting = await executor.transaction(async (session) => {
      await session.query(`set local role ${APP_ROLE}`);
      const counts = [];
      for (const table of [...TENANT_TABLES, 'organizations']) {
        const { rows } = await session.query<{ count: number }>(
          `select count(*)::int as count from ${table}`,
        );
        counts.push(rows[0]?.count);
      }
      return counts;
    });
    expect(withoutSetting).toEqual(TENANT_TABLES.map(() => 0).concat(0));

    const noTenant = await inScope(executor, NO_TENANT, async (session) => {
      const { rows } = await session.query<{ count: number }>(
        'select (select count(*) from users)::int + (select count(*) from api_keys)::int as count',
      );
      return rows[0]?.count;
    });
    expect(noTenant).toBe(0);
  });

  it('sees every organization only on the cross-tenant path', async () => {
    const { rows: all } = await executor.query<{ count: number }>(
      'select count(*)::int as count from users',
    );
    const crossTenant = await inScope(executor, CROSS_TENANT, async (session) => {
      const { rows } = await session.query<{ count: number }>(
        'select count(*)::int as count from users',
      );
      return rows[0]?.count;
    });
    expect(crossTenant).toBe(all[0]?.count);
    expect(crossTenant).toBeGreaterThanOrEqual(orgA.userIds.length + orgB.userIds.length);
  });
}

describe.each(engines)('row-level security on $name', (engine) => {
  rowLevelSecuritySuite(engine);
});
