import type { Logger } from '../domain/logger.js';
import type { Storage } from '../domain/ports.js';
import type { SqlExecutor } from './executor.js';
import { migrate } from './migrate.js';
import { PostgresExecutor } from './postgres/postgres-executor.js';
import type { PostgresExecutorOptions } from './postgres/postgres-executor.js';
import { createSqlStorage } from './sql-storage.js';

export { MigrationError } from './migrate.js';

export type PostgresStorageOptions = PostgresExecutorOptions;

export interface PgliteStorageOptions {
  /** Created if missing. Only one process may use it at a time. */
  dataDir: string;
  logger: Logger;
}

/** Resolves once the pool can reach the database and every migration is applied. */
export async function openPostgresStorage(options: PostgresStorageOptions): Promise<Storage> {
  return await start(new PostgresExecutor(options), options.logger);
}

export async function openPgliteStorage(options: PgliteStorageOptions): Promise<Storage> {
  // Loaded on demand: a PostgreSQL deployment never needs the WebAssembly build.
  const { PgliteExecutor } = await import('./pglite/pglite-executor.js');
  return await start(await PgliteExecutor.open(options), options.logger);
}

async function start(executor: SqlExecutor, logger: Logger): Promise<Storage> {
  try {
    await migrate(executor, { logger });
  } catch (error) {
    await executor.close().catch((closeError: unknown) => {
      logger.warn({ err: closeError }, 'closing storage after a failed start also failed');
    });
    throw error;
  }
  return createSqlStorage(executor);
}
