import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Results, Transaction } from '@electric-sql/pglite';
import type { Logger } from '../../domain/logger.js';
import type { SqlExecutor, SqlParam, SqlResult, SqlSession } from '../executor.js';
import { lockDataDir } from './data-dir-lock.js';
import type { DataDirLock } from './data-dir-lock.js';

export interface PgliteExecutorOptions {
  /** Created if missing. */
  dataDir: string;
  logger: Logger;
}

/**
 * PGlite is one in-process backend, i.e. one connection. PGlite itself runs every query, exec and
 * transaction under one mutex, so a transaction never sees another caller's statements; there is
 * no connection to lose, so nothing is retried.
 */
export class PgliteExecutor implements SqlExecutor {
  readonly kind = 'pglite';
  readonly #db: PGlite;
  readonly #lock: DataDirLock;
  #closing: Promise<void> | undefined;

  private constructor(db: PGlite, lock: DataDirLock) {
    this.#db = db;
    this.#lock = lock;
  }

  static async open(options: PgliteExecutorOptions): Promise<PgliteExecutor> {
    const dataDir = path.resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });
    const lock = await lockDataDir(dataDir, {
      // Another instance may be writing now; carrying on would corrupt the database for both, so
      // this process stops (an uncaught error) rather than serve another request from it.
      onLost: (error) => {
        options.logger.error({ err: error, dataDir }, 'PGlite data directory lock lost; exiting');
        throw error;
      },
    });
    try {
      const db = await PGlite.create({ dataDir });
      options.logger.debug({ dataDir }, 'PGlite opened');
      return new PgliteExecutor(db, lock);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  async query<Row extends object = Record<string, unknown>>(
    sql: string,
    params: readonly SqlParam[] = [],
  ): Promise<SqlResult<Row>> {
    return toResult(await this.#db.query<Row>(sql, [...params]));
  }

  // TransactionOptions are ignored: there is no statement timeout to widen on PGlite, which runs
  // in this thread and cannot be interrupted by a timer anyway, and no connection to lose.
  async transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    return await this.#db.transaction((tx) => fn(sessionOf(tx)));
  }

  async close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#db.close();
      } finally {
        await this.#lock.release();
      }
    })();
    await this.#closing;
  }
}

function sessionOf(tx: Transaction): SqlSession {
  return {
    query: async <Row extends object>(sql: string, params: readonly SqlParam[] = []) =>
      toResult(await tx.query<Row>(sql, [...params])),
    execScript: async (sql) => {
      await tx.exec(sql);
    },
  };
}

function toResult<Row>(result: Results<Row>): SqlResult<Row> {
  return {
    rows: result.rows,
    rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length,
  };
}
