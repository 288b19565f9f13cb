import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { loadMigrations, migrate } from '../../../src/storage/migrate.js';
import { PostgresExecutor } from '../../../src/storage/postgres/postgres-executor.js';
import { createSqlStorage } from '../../../src/storage/sql-storage.js';
import { createTestDatabase, withAdminClient } from '../../support/postgres.js';
import type { TestDatabase } from '../../support/postgres.js';
import { engines, POSTGRES_TEST_OPTIONS } from '../storage/engines.js';
import type { StorageHarness } from '../storage/engines.js';
import { dailyTotals, timedUsage, totalsFromRaw } from './fixtures.js';

const LEGACY_ROWS = `
  insert into usage_records (id, request_id, principal_id, organization_id, model, endpoint,
    prompt_tokens, completion_tokens, outcome, duration_ms, stream, created_at)
  select 'usage_legacy' || lpad(g::text, 6, '0'), 'req_legacy_' || g, 'p',
    case g % 3 when 0 then null when 1 then 'org_legacy_a' else 'org_legacy_b' end,
    case when g % 2 = 0 then 'm1' else 'm2' end, 'completions', g, 2 * g, 'completed', 1, false,
    timestamptz '2024-05-01T23:00:00Z' + g * interval '7 minutes'
  from generate_series(1, 500) as g`;

async function migrateUpTo(executor: SqlExecutor, version: number): Promise<void> {
  const shipped = await loadMigrations();
  await migrate(executor, {
    logger: silentLogger,
    migrations: shipped.filter((migration) => migration.version <= version),
  });
}

describe.each(engines)('usage roll-up migration on $name', (engine) => {
  let harness: StorageHarness;

  beforeEach(async () => {
    harness = await engine.create();
  });

  afterEach(async () => {
    await harness?.cleanup();
  });

  it('backfills the daily totals from the records written before it', async () => {
    const executor = await harness.openExecutor();
    await migrateUpTo(executor, 2);
    await executor.query(LEGACY_ROWS);

    const applied = await migrate(executor, { logger: silentLogger });
    expect(applied.map((migration) => migration.file)).toContain('003_usage_rollups.sql');

    const totals = await dailyTotals(executor);
    // Two organizations and none, two models, four UTC days (23:07 on May 1 to May 4).
    expect(totals).toHaveLength(24);
    expect(totals).toEqual(await totalsFromRaw(executor));
    // And from here on the trigger keeps them current.
    await createSqlStorage(executor).usage.recordMany([
      timedUsage('2024-05-02T10:00:00Z', { organizationId: 'org_legacy_a', model: 'm1' }),
    ]);
    expect(await dailyTotals(executor)).toEqual(await totalsFromRaw(executor));
  });

  it('keys the records written before it on their own id and frees the request id', async () => {
    const executor = await harness.openExecutor();
    await migrateUpTo(executor, 3);
    await executor.query(LEGACY_ROWS);

    const applied = await migrate(executor, { logger: silentLogger });
    expect(applied.map((migration) => migration.file)).toContain('004_usage_completion_id.sql');

    const { rows } = await executor.query<{ mismatched: number }>(
      'select count(*)::int as mismatched from usage_records where completion_id <> id',
    );
    expect(rows).toEqual([{ mismatched: 0 }]);
    const storage = createSqlStorage(executor);
    expect(await storage.usage.findByCompletionId('usage_legacy000007')).toMatchObject({
      requestId: 'req_legacy_7',
    });
    // The same request id again, as a client may send it: a record of its own.
    const reused = timedUsage('2024-05-02T10:00:00Z', {
      requestId: 'req_legacy_7',
      organizationId: 'org_legacy_b',
      model: 'm2',
    });
    expect(await storage.usage.recordMany([reused])).toEqual({ inserted: 1 });
    expect(await storage.usage.recordMany([reused])).toEqual({ inserted: 0 });
    expect(await dailyTotals(executor)).toEqual(await totalsFromRaw(executor));
  });
});

describe('usage roll-up migration run by a table owner that is not a superuser', () => {
  let database: TestDatabase | undefined;
  let executor: PostgresExecutor | undefined;
  const owner = `inference_test_role_${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    await executor?.close();
    await database?.drop();
    await withAdminClient((client) => client.query(`drop role if exists ${owner}`));
  });

  it('sees every organization through forced row-level security while backfilling', async () => {
    await withAdminClient((client) => client.query(`create role ${owner} login createrole`));
    database = await createTestDatabase({ owner });
    executor = new PostgresExecutor({
      ...POSTGRES_TEST_OPTIONS,
      url: database.url,
      logger: silentLogger,
    });
    await migrateUpTo(executor, 2);
    await executor.transaction(async (session) => {
      await session.query(`select set_config('app.cross_tenant', 'on', true)`);
      await session.query(LEGACY_ROWS);
    });

    await migrate(executor, { logger: silentLogger });

    const totals = await executor.transaction(async (session) => {
      await session.query(`select set_config('app.cross_tenant', 'on', true)`);
      const { rows } = await session.query<{ requests: number }>(
        'select coalesce(sum(requests), 0)::int as requests from usage_daily',
      );
      return rows[0]?.requests;
    });
    expect(totals).toBe(500);
  });
});
