import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import { loadMigrations, migrate } from '../../../src/storage/migrate.js';
import { engines } from './engines.js';
import type { StorageHarness } from './engines.js';

describe.each(engines)('idempotency claims migration on $name', (engine) => {
  let harness: StorageHarness;

  beforeEach(async () => {
    harness = await engine.create();
  });

  afterEach(async () => {
    await harness?.cleanup();
  });

  it('cuts claims taken before leases down to ten minutes, leaving stored answers alone', async () => {
    const executor = await harness.openExecutor();
    const shipped = await loadMigrations();
    await migrate(executor, {
      logger: silentLogger,
      migrations: shipped.filter((migration) => migration.version < 5),
    });
    await executor.query(
      `insert into idempotency_keys (scope, key, request_hash, state, expires_at)
       values ('user:legacy', 'stuck', 'h', 'in_progress', now() + interval '24 hours')`,
    );
    await executor.query(
      `insert into idempotency_keys
         (scope, key, request_hash, state, response_status, response_headers, response_body,
          expires_at)
       values ('user:legacy', 'answered', 'h', 'completed', 201, '{}'::jsonb, '{}',
         now() + interval '24 hours')`,
    );

    await migrate(executor, { logger: silentLogger });

    const { rows } = await executor.query<{ key: string; within: string }>(
      `select key,
         case when expires_at <= now() + interval '10 minutes' then 'lease' else 'day' end as within
       from idempotency_keys where scope = 'user:legacy' order by key`,
    );
    expect(rows).toEqual([
      { key: 'answered', within: 'day' },
      { key: 'stuck', within: 'lease' },
    ]);
  });
});
