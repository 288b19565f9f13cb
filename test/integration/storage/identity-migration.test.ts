import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { Storage } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { openPostgresStorage } from '../../../src/storage/index.js';
import { checksumOf, loadMigrations, migrate } from '../../../src/storage/migrate.js';
import type { Migration } from '../../../src/storage/migrate.js';
import { PostgresExecutor } from '../../../src/storage/postgres/postgres-executor.js';
import { APP_ROLE } from '../../../src/storage/sql/row-scope.js';
import { createSqlStorage } from '../../../src/storage/sql-storage.js';
import { createTestDatabase, withAdminClient } from '../../support/postgres.js';
import type { TestDatabase } from '../../support/postgres.js';
import { engines, POSTGRES_TEST_OPTIONS } from './engines.js';
import type { StorageHarness } from './engines.js';
import { newUser, seedOrganization } from './identity-fixtures.js';

/** The shipped migrations with the application role renamed, to race on a role nobody made yet. */
async function migrationsWithRole(role: string): Promise<Migration[]> {
  return (await loadMigrations()).map((migration) => {
    const sql = migration.sql.replaceAll(APP_ROLE, role);
    return { ...migration, sql, checksum: checksumOf(sql) };
  });
}

async function dropRole(role: string): Promise<void> {
  await withAdminClient((client) => client.query(`drop role if exists ${role}`));
}

function testRoleName(): string {
  return `inference_test_role_${randomBytes(4).toString('hex')}`;
}

describe.each(engines)('identity migration on $name', (engine) => {
  let harness: StorageHarness;

  beforeEach(async () => {
    harness = await engine.create();
  });

  afterEach(async () => {
    await harness?.cleanup();
  });

  it('upgrades a database migrated to 001 only, keeping its usage records', async () => {
    const executor = await harness.openExecutor();
    const shipped = await loadMigrations();
    await migrate(executor, {
      logger: silentLogger,
      migrations: shipped.filter((migration) => migration.version === 1),
    });
    await executor.query(
      `insert into usage_records (id, request_id, principal_id, model, endpoint, prompt_tokens,
         completion_tokens, outcome, duration_ms, stream)
       values ('usage_legacy0001', 'req_legacy', 'platform-admin', 'm', 'completions', 1, 2,
         'completed', 3, false)`,
    );

    const applied = await migrate(executor, { logger: silentLogger });
    // Every later one, whatever their number: this test is about 002 meeting 001's rows.
    expect(applied.map((migration) => migration.file)).toEqual(
      shipped.filter((migration) => migration.version > 1).map((migration) => migration.file),
    );

    const storage = createSqlStorage(executor);
    expect(await storage.usage.findByRequestId('req_legacy')).toMatchObject({
      id: 'usage_legacy0001',
      promptTokens: 1,
    });
    const { rows } = await executor.query<{ organization_id: string | null }>(
      `select organization_id from usage_records where id = 'usage_legacy0001'`,
    );
    expect(rows).toEqual([{ organization_id: null }]);
    const { organization } = await seedOrganization(storage);
    await expect(
      storage.identity.inTenant(organization.id, (tx) => tx.createUser(newUser())),
    ).resolves.toMatchObject({ organizationId: organization.id });
  });
});

describe('identity migration on a shared PostgreSQL server', () => {
  let databases: TestDatabase[];
  let roles: string[];
  let storages: Storage[];

  beforeEach(() => {
    databases = [];
    roles = [];
    storages = [];
  });

  afterEach(async () => {
    await Promise.allSettled(storages.map((storage) => storage.close()));
    await Promise.allSettled(databases.map((database) => database.drop()));
    // Only after the databases: a role cannot be dropped while it holds privileges in one.
    for (const role of roles) await dropRole(role);
  });

  async function databasesOf(count: number): Promise<TestDatabase[]> {
    const created = await Promise.all(Array.from({ length: count }, () => createTestDatabase()));
    databases.push(...created);
    return created;
  }

  async function withExecutor<T>(url: string, fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
    const executor = new PostgresExecutor({ ...POSTGRES_TEST_OPTIONS, url, logger: silentLogger });
    try {
      return await fn(executor);
    } finally {
      await executor.close();
    }
  }

  it('migrates several fresh databases at once while the role does not exist yet', async () => {
    const role = testRoleName();
    roles.push(role);
    const migrations = await migrationsWithRole(role);
    const fresh = await databasesOf(4);

    const results = await Promise.allSettled(
      fresh.map((database) =>
        withExecutor(database.url, (db) => migrate(db, { logger: silentLogger, migrations })),
      ),
    );
    expect(results.map((result) => result.status)).toEqual(fresh.map(() => 'fulfilled'));

    const attributes = await withAdminClient(async (client) => {
      const { rows } = await client.query<{
        rolsuper: boolean;
        rolbypassrls: boolean;
        rolcanlogin: boolean;
      }>('select rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = $1', [role]);
      return rows;
    });
    expect(attributes).toEqual([{ rolsuper: false, rolbypassrls: false, rolcanlogin: false }]);
  });

  it('starts storage on several fresh databases at once with the shipped role', async () => {
    const fresh = await databasesOf(3);
    const results = await Promise.allSettled(
      fresh.map((database) =>
        openPostgresStorage({ ...POSTGRES_TEST_OPTIONS, url: database.url, logger: silentLogger }),
      ),
    );
    for (const result of results) if (result.status === 'fulfilled') storages.push(result.value);
    expect(results.map((result) => result.status)).toEqual(fresh.map(() => 'fulfilled'));
    for (const storage of storages) await seedOrganization(storage);
  });

  it('refuses a pre-existing application role that could bypass the policies', async () => {
    const role = testRoleName();
    roles.push(role);
    await withAdminClient((client) => client.query(`create role ${role} nologin bypassrls`));
    const [database] = await databasesOf(1);
    const migrations = await migrationsWithRole(role);

    await expect(
      withExecutor(database?.url ?? '', (db) => migrate(db, { logger: silentLogger, migrations })),
    ).rejects.toThrow(/must be NOSUPERUSER NOBYPASSRLS/);
  });

  it('confines a table owner that is not a superuser, who connects as itself', async () => {
    const owner = testRoleName();
    roles.push(owner);
    await withAdminClient((client) => client.query(`create role ${owner} login createrole`));
    const database = await createTestDatabase({ owner });
    databases.push(database);

    // The migration grants itself membership in the application role, which SET ROLE needs.
    const storage = await openPostgresStorage({
      ...POSTGRES_TEST_OPTIONS,
      url: database.url,
      logger: silentLogger,
    });
    storages.push(storage);
    const { organization, admin } = await seedOrganization(storage);
    const record = await storage.usage.record({
      completionId: 'cmpl-owner',
      requestId: 'req_owner',
      principalId: admin.id,
      organizationId: organization.id,
      model: 'local-echo',
      endpoint: 'completions',
      promptTokens: 1,
      completionTokens: 1,
      outcome: 'completed',
      durationMs: 1,
      stream: false,
    });
    expect(await storage.usage.list({ limit: 10 })).toEqual([record]);
    expect(await storage.identity.getOrganization(organization.id)).toEqual(organization);

    // FORCE ROW LEVEL SECURITY: even the owner, connecting without the application role, sees
    // nothing outside a tenant.
    const counts = await withExecutor(database.url, async (db) => {
      const { rows } = await db.query<{ users: number; usage: number; me: string }>(
        `select (select count(*) from users)::int as users,
           (select count(*) from usage_records)::int as usage, current_user as me`,
      );
      return rows[0];
    });
    expect(counts).toEqual({ users: 0, usage: 0, me: owner });
  });
});
