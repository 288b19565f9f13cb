import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/domain/ports.js';
import { openPostgresStorage } from '../../../src/storage/index.js';
import { migrate } from '../../../src/storage/migrate.js';
import { PostgresExecutor } from '../../../src/storage/postgres/postgres-executor.js';
import type { PostgresExecutorOptions } from '../../../src/storage/postgres/postgres-executor.js';
import { createTestDatabase, withAdminClient } from '../../support/postgres.js';
import type { TestDatabase } from '../../support/postgres.js';
import { POSTGRES_TEST_OPTIONS } from './engines.js';
import { recordingLogger } from './recording-logger.js';

const APP = 'inference-api-pool-test';

/** Backends of the application's pool, seen from outside it. */
async function appBackends(database: string): Promise<number[]> {
  return await withAdminClient(async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and application_name = $2',
      [database, APP],
    );
    return rows.map((row) => row.pid);
  });
}

/** Terminates a backend and waits until it is gone, so its socket has been closed. */
async function terminate(pid: number): Promise<void> {
  await withAdminClient((client) => client.query('select pg_terminate_backend($1, 5000)', [pid]));
}

async function backendRunning(database: string, fragment: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const pid = await withAdminClient(async (client) => {
      const { rows } = await client.query<{ pid: number }>(
        `select pid from pg_stat_activity
         where datname = $1 and state = 'active' and query like $2 and pid <> pg_backend_pid()`,
        [database, `%${fragment}%`],
      );
      return rows[0]?.pid;
    });
    if (pid !== undefined) return pid;
    await sleep(20);
  }
  throw new Error(`no backend running ${fragment}`);
}

describe('PostgreSQL pool', () => {
  let database: TestDatabase;
  let executors: PostgresExecutor[];
  let logger: ReturnType<typeof recordingLogger>;

  function executor(overrides: Partial<PostgresExecutorOptions> = {}): PostgresExecutor {
    const created = new PostgresExecutor({
      ...POSTGRES_TEST_OPTIONS,
      url: database.url,
      applicationName: APP,
      logger,
      ...overrides,
    });
    executors.push(created);
    return created;
  }

  beforeEach(async () => {
    database = await createTestDatabase();
    executors = [];
    logger = recordingLogger();
  });

  afterEach(async () => {
    await Promise.allSettled(executors.map((created) => created.close()));
    await database?.drop();
  });

  it('never opens more connections than poolSize', async () => {
    const db = executor({ poolSize: 2 });
    const queries = Array.from({ length: 8 }, () => db.query('select pg_sleep(0.15)'));
    let peak = 0;
    const sampling = (async () => {
      for (let i = 0; i < 15; i += 1) {
        peak = Math.max(peak, (await appBackends(database.name)).length);
        await sleep(40);
      }
    })();
    await Promise.all([...queries, sampling]);
    expect(peak).toBe(2);
  });

  it('drops an idle connection killed by pg_terminate_backend and keeps serving', async () => {
    const db = executor({ poolSize: 2 });
    await db.query('select 1');
    const [pid] = await appBackends(database.name);
    expect(pid).toBeDefined();

    await terminate(pid ?? 0);
    await sleep(50);

    // A write: not retried, so this only passes if the dead connection left the pool.
    await expect(db.query('create table after_kill (id int)')).resolves.toBeDefined();
    const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
    expect(rows[0]?.pid).not.toBe(pid);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/idle database conn/) }),
    );
  });

  it('retries an idempotent read once when its connection is killed mid-query', async () => {
    const db = executor();
    const read = db.query<{ pid: number }>('select pg_backend_pid() as pid, pg_sleep(0.4)', [], {
      idempotent: true,
    });
    const victim = await backendRunning(database.name, 'pg_sleep(0.4)');
    await terminate(victim);

    const { rows } = await read;
    expect(rows[0]?.pid).not.toBe(victim);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/retrying read once/) }),
    );
  });

  it('retries a read-only transaction once when its connection is killed mid-statement', async () => {
    const db = executor();
    let attempts = 0;
    const read = db.transaction(
      async (session) => {
        attempts += 1;
        const { rows } = await session.query<{ pid: number }>(
          'select pg_backend_pid() as pid, pg_sleep(0.4) as read_only_tx',
        );
        return rows[0]?.pid;
      },
      { idempotent: true },
    );
    const victim = await backendRunning(database.name, 'read_only_tx');
    await terminate(victim);

    expect(await read).not.toBe(victim);
    expect(attempts).toBe(2);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/retrying read-only transaction/) }),
    );
  });

  it('does not retry a statement that is not marked idempotent', async () => {
    const db = executor();
    // Caught right away: it fails while this test is still busy terminating the backend.
    const failure = db.query('select pg_sleep(0.4) as write_like').catch((error: unknown) => error);
    const victim = await backendRunning(database.name, 'write_like');
    await terminate(victim);

    expect(await failure).toMatchObject({ code: '57P01' });
    await expect(db.query('select 1')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('fails a transaction whose connection dies between statements, without crashing', async () => {
    const db = executor();
    await db.query('create table tx_target (id int)');

    const tx = db.transaction(async (session) => {
      await session.query('insert into tx_target values (1)');
      const { rows } = await session.query<{ pid: number }>('select pg_backend_pid() as pid');
      // The backend dies while this client is checked out and idle: pg emits 'error' on it, which
      // would be an uncaught exception without the executor's listener.
      await terminate(rows[0]?.pid ?? 0);
      await sleep(50);
      await session.query('insert into tx_target values (2)');
    });

    await expect(tx).rejects.toThrow();
    const { rows } = await db.query<{ count: number }>(
      'select count(*)::int as count from tx_target',
    );
    expect(rows[0]?.count).toBe(0);
  });

  it('cancels a statement that exceeds the statement timeout and keeps the pool usable', async () => {
    const db = executor({ poolSize: 1, statementTimeoutMs: 150 });
    const started = Date.now();

    await expect(db.query('select pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(2_000);

    await expect(db.query('select 1 as ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    await expect(
      db.transaction(async (session) => session.query('select pg_sleep(3)')),
    ).rejects.toMatchObject({ code: '57014' });
    await expect(db.query('select 2 as ok')).resolves.toMatchObject({ rows: [{ ok: 2 }] });
  });

  it('widens the statement timeout for one transaction only (as migrations need)', async () => {
    const db = executor({ poolSize: 1, statementTimeoutMs: 150 });

    await expect(
      db.transaction(async (session) => session.query('select pg_sleep(0.4)'), {
        statementTimeoutMs: 5_000,
      }),
    ).resolves.toBeDefined();
    await expect(db.query('select pg_sleep(0.4)')).rejects.toMatchObject({ code: '57014' });
  });

  it('lets the server end a transaction left idle too long, and recovers', async () => {
    const db = executor({ poolSize: 1, idleInTransactionTimeoutMs: 150 });
    const tx = db.transaction(async (session) => {
      await session.query('select 1');
      await sleep(500);
      await session.query('select 2');
    });

    await expect(tx).rejects.toThrow();
    await expect(db.query('select 3 as ok')).resolves.toMatchObject({ rows: [{ ok: 3 }] });
  });

  it('fails fast when the server cannot be reached', async () => {
    const unreachable = new PostgresExecutor({
      ...POSTGRES_TEST_OPTIONS,
      url: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMs: 500,
      logger,
    });
    executors.push(unreachable);
    await expect(unreachable.query('select 1')).rejects.toThrow();
  });

  it('closes idempotently and refuses work afterwards', async () => {
    const db = executor();
    await migrate(db, { logger });
    await db.close();
    await db.close();
    await expect(db.query('select 1')).rejects.toThrow();
  });
});

describe('PostgreSQL storage', () => {
  let database: TestDatabase;
  let storage: Storage | undefined;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await storage?.close();
    await database?.drop();
  });

  it('answers ping after every pooled connection was terminated', async () => {
    storage = await openPostgresStorage({
      ...POSTGRES_TEST_OPTIONS,
      url: database.url,
      logger: recordingLogger(),
    });
    await storage.ping();
    await withAdminClient((client) =>
      client.query(
        'select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = $1',
        [database.name],
      ),
    );
    await expect(storage.ping()).resolves.toBeUndefined();
  });

  it('refuses to start against a database it cannot reach, and reports why', async () => {
    await expect(
      openPostgresStorage({
        ...POSTGRES_TEST_OPTIONS,
        url: `postgres://postgres@127.0.0.1:5432/${database.name}_missing`,
        logger: recordingLogger(),
      }),
    ).rejects.toThrow(/does not exist/);
  });
});
