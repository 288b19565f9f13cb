import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';
import { openPostgresStorage } from '../../../src/storage/index.js';
import {
  loadMigrations,
  migrate,
  MigrationError,
  MIGRATIONS_DIRECTORY,
} from '../../../src/storage/migrate.js';
import type { Migration } from '../../../src/storage/migrate.js';
import { PostgresExecutor } from '../../../src/storage/postgres/postgres-executor.js';
import { createTestDatabase } from '../../support/postgres.js';
import type { TestDatabase } from '../../support/postgres.js';
import { engines, POSTGRES_TEST_OPTIONS } from './engines.js';
import type { StorageHarness } from './engines.js';
import { recordingLogger } from './recording-logger.js';

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

async function appliedRows(executor: SqlExecutor): Promise<AppliedRow[]> {
  const { rows } = await executor.query<AppliedRow>(
    'select version, name, checksum, applied_at from schema_migrations order by version',
  );
  return rows;
}

async function tableExists(executor: SqlExecutor, table: string): Promise<boolean> {
  const { rows } = await executor.query<{ found: boolean }>(
    'select to_regclass($1) is not null as found',
    [table],
  );
  return rows[0]?.found === true;
}

/** The shipped migrations copied to a temporary directory, with `edit` applied to the copy. */
async function editedCopy(
  dir: string,
  edit: (files: Map<string, string>) => void,
): Promise<Migration[]> {
  const files = new Map<string, string>();
  for (const migration of await loadMigrations()) {
    files.set(
      migration.file,
      await readFile(new URL(migration.file, MIGRATIONS_DIRECTORY), 'utf8'),
    );
  }
  edit(files);
  for (const [file, sql] of files) await writeFile(path.join(dir, file), sql);
  return await loadMigrations(pathToFileURL(`${dir}/`));
}

describe.each(engines)('migrations on $name', (engine) => {
  let harness: StorageHarness;
  let scratch: string;

  beforeEach(async () => {
    harness = await engine.create();
    scratch = await mkdtemp(path.join(tmpdir(), 'inference-migrations-'));
  });

  afterEach(async () => {
    await harness?.cleanup();
    await rm(scratch, { recursive: true, force: true });
  });

  it('applies every migration once and nothing on the second run', async () => {
    const executor = await harness.openExecutor();
    const shipped = await loadMigrations();
    expect(shipped.map((migration) => migration.file)).toContain('001_usage_records.sql');

    const first = await migrate(executor, { logger: silentLogger });
    expect(first.map((migration) => migration.version)).toEqual(
      shipped.map((migration) => migration.version),
    );
    const recorded = await appliedRows(executor);
    expect(recorded.map(({ version, name, checksum }) => ({ version, name, checksum }))).toEqual(
      shipped.map(({ version, name, checksum }) => ({ version, name, checksum })),
    );
    expect(recorded[0]?.applied_at).toBeInstanceOf(Date);

    await expect(migrate(executor, { logger: silentLogger })).resolves.toEqual([]);
    expect(await appliedRows(executor)).toEqual(recorded);
  });

  it('refuses to start when an applied migration file was edited, naming the file', async () => {
    const executor = await harness.openExecutor();
    await migrate(executor, { logger: silentLogger });
    const edited = await editedCopy(scratch, (files) => {
      files.set('001_usage_records.sql', `${files.get('001_usage_records.sql')}\n-- tweak\n`);
    });

    const run = migrate(executor, { logger: silentLogger, migrations: edited });
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(/001_usage_records\.sql was changed after it was applied/);
  });

  it('refuses through the storage factory when the recorded checksum differs', async () => {
    const executor = await harness.openExecutor();
    await migrate(executor, { logger: silentLogger });
    await executor.query(`update schema_migrations set checksum = 'tampered' where version = 1`);
    await executor.close();

    await expect(harness.open()).rejects.toThrow(/001_usage_records\.sql/);
  });

  it('rolls back the whole run when one migration fails', async () => {
    const executor = await harness.openExecutor();
    const broken = await editedCopy(scratch, (files) => {
      files.set('900_broken.sql', 'create table half_done (id int);\nselect * from no_such_table;');
    });

    const run = migrate(executor, { logger: silentLogger, migrations: broken });
    await expect(run).rejects.toThrow(/900_broken\.sql failed/);

    expect(await tableExists(executor, 'usage_records')).toBe(false);
    expect(await tableExists(executor, 'half_done')).toBe(false);
    expect(await tableExists(executor, 'schema_migrations')).toBe(false);
  });

  it('refuses a new migration numbered below one already applied', async () => {
    const executor = await harness.openExecutor();
    const withLater = await editedCopy(scratch, (files) => {
      files.set('009_later.sql', 'create table later (id int);');
    });
    await migrate(executor, { logger: silentLogger, migrations: withLater });
    await writeFile(path.join(scratch, '008_merged_late.sql'), 'create table merged (id int);');
    const withEarlier = await loadMigrations(pathToFileURL(`${scratch}/`));

    await expect(
      migrate(executor, { logger: silentLogger, migrations: withEarlier }),
    ).rejects.toThrow(/008_merged_late\.sql is older than already applied version 9/);
  });

  it('warns about, but tolerates, an applied migration this build does not know', async () => {
    const executor = await harness.openExecutor();
    const withFuture = await editedCopy(scratch, (files) => {
      files.set('777_future.sql', 'create table future (id int);');
    });
    await migrate(executor, { logger: silentLogger, migrations: withFuture });
    const logger = recordingLogger();

    await expect(migrate(executor, { logger })).resolves.toEqual([]);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', obj: expect.objectContaining({ version: 777 }) }),
    );
  });
});

describe('loading migration files', () => {
  let scratch: string;

  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'inference-migrations-'));
  });

  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('rejects badly named files and duplicate versions', async () => {
    await writeFile(path.join(scratch, '01_short.sql'), 'select 1;');
    await expect(loadMigrations(pathToFileURL(`${scratch}/`))).rejects.toThrow(/01_short\.sql/);

    await rm(path.join(scratch, '01_short.sql'));
    await writeFile(path.join(scratch, '002_a.sql'), 'select 1;');
    await writeFile(path.join(scratch, '002_b.sql'), 'select 1;');
    await expect(loadMigrations(pathToFileURL(`${scratch}/`))).rejects.toThrow(/share version 2/);
  });

  it('ignores line-ending differences in the checksum', async () => {
    await writeFile(path.join(scratch, '001_lf.sql'), 'select 1;\nselect 2;\n');
    await writeFile(path.join(scratch, '002_crlf.sql'), 'select 1;\r\nselect 2;\r\n');
    const [lf, crlf] = await loadMigrations(pathToFileURL(`${scratch}/`));
    expect(lf?.checksum).toBe(crlf?.checksum);
  });
});

describe('concurrent start on PostgreSQL', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database?.drop();
  });

  it('lets three instances start at once on a fresh database and migrates exactly once', async () => {
    const loggers = [recordingLogger(), recordingLogger(), recordingLogger()];
    const results = await Promise.allSettled(
      loggers.map((logger) =>
        openPostgresStorage({ ...POSTGRES_TEST_OPTIONS, url: database.url, logger }),
      ),
    );
    const storages = results.flatMap((result) =>
      result.status === 'fulfilled' ? [result.value] : [],
    );
    try {
      expect(results.map((result) => result.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      const applied = loggers.flatMap((logger) =>
        logger.entries.filter((entry) => entry.msg === 'migration applied'),
      );
      const shipped = await loadMigrations();
      expect(applied).toHaveLength(shipped.length);

      const { rows } = await withExecutorOf(database.url, (executor) =>
        executor.query<{ version: number; count: number }>(
          `select version, count(*)::int as count from schema_migrations
           group by version order by version`,
        ),
      );
      expect(rows).toEqual(shipped.map((migration) => ({ version: migration.version, count: 1 })));

      for (const storage of storages) await storage.ping();
    } finally {
      await Promise.all(storages.map((storage) => storage.close()));
    }
  });
});

async function withExecutorOf<T>(
  url: string,
  fn: (executor: SqlExecutor) => Promise<T>,
): Promise<T> {
  const executor = new PostgresExecutor({ ...POSTGRES_TEST_OPTIONS, url, logger: silentLogger });
  try {
    return await fn(executor);
  } finally {
    await executor.close();
  }
}
