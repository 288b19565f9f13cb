import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { Logger } from '../domain/logger.js';
import type { SqlExecutor, SqlSession } from './executor.js';

/** Resolved next to this module so it works from src/ (tsx, vitest) and from dist/ alike. */
export const MIGRATIONS_DIRECTORY = new URL('./migrations/', import.meta.url);

const FILE_NAME = /^(?<version>\d{3})_(?<name>[a-z0-9_]+)\.sql$/;

// Any constant works as long as every instance of this application uses the same one; it only has
// to differ from advisory locks other software might take in the same database.
const MIGRATION_LOCK_KEY = '4242081520190001';

// Waiting for another instance's lock, or a migration rewriting a big table, may legitimately take
// longer than the per-request statement timeout configured on the connection.
const DEFAULT_MIGRATION_TIMEOUT_MS = 10 * 60_000;

const CREATE_SCHEMA_MIGRATIONS = `
  create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`;

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** sha256 of the file with line endings normalised, so a CRLF checkout does not count as an edit. */
  checksum: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export interface MigrateOptions {
  logger: Logger;
  /** Defaults to the files in MIGRATIONS_DIRECTORY. */
  migrations?: Migration[];
  timeoutMs?: number;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

export async function loadMigrations(directory: URL = MIGRATIONS_DIRECTORY): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const groups = FILE_NAME.exec(file)?.groups;
    if (groups?.version === undefined || groups.name === undefined) {
      throw new MigrationError(`Migration file ${file} is not named NNN_name.sql`);
    }
    const version = Number(groups.version);
    const clash = migrations.find((migration) => migration.version === version);
    if (clash) {
      throw new MigrationError(`Migrations ${clash.file} and ${file} share version ${version}`);
    }
    const sql = await readFile(new URL(file, directory), 'utf8');
    migrations.push({ version, name: groups.name, file, sql, checksum: checksumOf(sql) });
  }
  return migrations;
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so instances starting
 * together queue up and all but the first find nothing to do. A failing migration rolls back every
 * migration of this run. Returns the migrations this call applied.
 */
export async function migrate(
  executor: SqlExecutor,
  options: MigrateOptions,
): Promise<Migration[]> {
  const migrations = options.migrations ?? (await loadMigrations());
  const timeoutMs = options.timeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS;
  const applied = await executor.transaction(
    async (session) => {
      // Taken before schema_migrations exists: concurrent `create table if not exists` can itself
      // fail with a unique violation in the catalog.
      await session.query(`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      await session.execScript(CREATE_SCHEMA_MIGRATIONS);
      const { rows } = await session.query<AppliedRow>(
        'select version, name, checksum from schema_migrations order by version',
      );
      const pending = pendingMigrations(migrations, rows, options.logger);
      for (const migration of pending) {
        await apply(session, migration);
      }
      return pending;
    },
    { statementTimeoutMs: timeoutMs },
  );
  for (const migration of applied) {
    options.logger.info({ version: migration.version, file: migration.file }, 'migration applied');
  }
  return applied;
}

function pendingMigrations(
  migrations: Migration[],
  appliedRows: AppliedRow[],
  logger: Logger,
): Migration[] {
  const byVersion = new Map(migrations.map((migration) => [migration.version, migration]));
  for (const row of appliedRows) {
    const migration = byVersion.get(row.version);
    if (!migration) {
      // An older build started against a schema a newer build already migrated (rolling deploy or
      // rollback). Newer migrations are meant to be backward compatible, so warn and carry on.
      logger.warn({ version: row.version, name: row.name }, 'database has an unknown migration');
      continue;
    }
    if (migration.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${migration.file} was changed after it was applied ` +
          `(checksum ${row.checksum} in the database, ${migration.checksum} on disk). ` +
          'Never edit an applied migration; add a new one instead.',
      );
    }
  }
  const appliedVersions = new Set(appliedRows.map((row) => row.version));
  const newestApplied = Math.max(0, ...appliedVersions);
  const pending = migrations
    .filter((migration) => !appliedVersions.has(migration.version))
    .sort((a, b) => a.version - b.version);
  const outOfOrder = pending.find((migration) => migration.version < newestApplied);
  if (outOfOrder) {
    throw new MigrationError(
      `Migration ${outOfOrder.file} is older than already applied version ${newestApplied}; ` +
        'renumber it after the newest applied migration.',
    );
  }
  return pending;
}

async function apply(session: SqlSession, migration: Migration): Promise<void> {
  try {
    await session.execScript(migration.sql);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`Migration ${migration.file} failed: ${reason}`, { cause: error });
  }
  await session.query(
    'insert into schema_migrations (version, name, checksum) values ($1, $2, $3)',
    [migration.version, migration.name, migration.checksum],
  );
}
