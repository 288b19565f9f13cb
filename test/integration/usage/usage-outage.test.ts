import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/domain/ports.js';
import { UsageRecorder } from '../../../src/domain/usage/usage-recorder.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { withAdminClient } from '../../support/postgres.js';
import { engines } from '../storage/engines.js';
import type { Engine, StorageHarness } from '../storage/engines.js';
import { openWithExecutor } from '../storage/identity-fixtures.js';
import { recordingLogger } from '../storage/recording-logger.js';
import { countingWriter, dailyTotals, newUsage, rawCount, totalsFromRaw } from './fixtures.js';

interface Outage {
  begin(): Promise<void>;
  end(): Promise<void>;
}

/**
 * PostgreSQL: the real database refuses connections and its open ones are killed; the recorder
 * keeps the same storage (and pool) throughout. PGlite, in-process: the storage is closed and
 * opened again, as there is no server to take away.
 */
function outageFor(
  engine: Engine,
  harness: StorageHarness,
  state: { storage: Storage; executor: SqlExecutor },
): Outage {
  if (engine.name === 'pglite') {
    return {
      begin: () => state.storage.close(),
      end: async () => {
        Object.assign(state, await openWithExecutor(harness));
      },
    };
  }
  let database = '';
  const allowConnections = async (allow: boolean) => {
    await withAdminClient((client) =>
      client.query(`alter database ${database} with allow_connections ${allow}`),
    );
  };
  return {
    begin: async () => {
      const { rows } = await state.executor.query<{ name: string }>(
        'select current_database() as name',
      );
      database = rows[0]?.name ?? '';
      await allowConnections(false);
      await withAdminClient((client) =>
        client.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
           where datname = $1 and pid <> pg_backend_pid()`,
          [database],
        ),
      );
    },
    end: () => allowConnections(true),
  };
}

describe.each(engines)('usage recorder through a database outage on $name', (engine) => {
  let harness: StorageHarness;
  let state: { storage: Storage; executor: SqlExecutor };

  beforeAll(async () => {
    harness = await engine.create();
    state = await openWithExecutor(harness);
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('keeps the rows of a failed write and writes them, once, when the database is back', async () => {
    const writer = countingWriter(() => state.storage.usage);
    const logger = recordingLogger();
    const usage = new UsageRecorder(writer, logger, {
      maxBatch: 500,
      flushIntervalMs: 3_600_000,
      retryBaseMs: 3_600_000,
    });
    const before = [newUsage(), newUsage()];
    for (const record of before) usage.record(record);
    await usage.flush();

    const outage = outageFor(engine, harness, state);
    await outage.begin();
    const during = Array.from({ length: 20 }, () => newUsage({ organizationId: null }));
    for (const record of during) usage.record(record);
    await expect(usage.flush()).rejects.toThrow();
    await expect(usage.flush()).rejects.toThrow();
    expect(usage.buffered).toBe(20);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: 'error',
        obj: expect.objectContaining({ buffered: 20, failures: 2 }),
      }),
    );

    await outage.end();
    await usage.flush();
    expect(usage.buffered).toBe(0);
    // The timed write is in backoff; close() writes regardless and finds nothing left.
    await usage.close();

    expect(writer.batches).toEqual([2, 20, 20, 20]);
    expect(await rawCount(state.executor)).toBe(22);
    for (const record of during) {
      expect(await state.storage.usage.findByRequestId(record.requestId)).not.toBeNull();
    }
    expect(await dailyTotals(state.executor)).toEqual(await totalsFromRaw(state.executor));
  });

  it('sending a batch again after an unknown outcome adds nothing twice', async () => {
    // What a retry does after a commit whose acknowledgement was lost with the connection.
    const batch = Array.from({ length: 30 }, () => ({ ...newUsage(), createdAt: new Date() }));
    const totalsBefore = await rawCount(state.executor);
    await expect(state.storage.usage.recordMany(batch)).resolves.toEqual({ inserted: 30 });
    const totals = await dailyTotals(state.executor);
    await expect(state.storage.usage.recordMany(batch)).resolves.toEqual({ inserted: 0 });
    expect(await dailyTotals(state.executor)).toEqual(totals);
    expect(await rawCount(state.executor)).toBe(totalsBefore + 30);
  });
});
