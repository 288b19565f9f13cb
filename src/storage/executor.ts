/**
 * The one seam between SQL written once (repositories, migrations) and the two engines that run it.
 * Both adapters speak the same PostgreSQL dialect, so nothing above this interface knows which
 * engine it is talking to.
 */

/** A string array binds as text[] (API key scopes); both drivers encode it themselves. */
export type SqlParam = string | number | boolean | Date | null | readonly string[];

export interface SqlResult<Row> {
  rows: Row[];
  /** Rows returned by a SELECT or affected by INSERT/UPDATE/DELETE, as the command tag reports. */
  rowCount: number;
}

export interface QueryOptions {
  /**
   * The statement can run twice without harm (a read). Only such statements are retried, once, when
   * the connection broke underneath them; a write might have committed before the break.
   */
  idempotent?: boolean;
}

export interface TransactionOptions {
  /**
   * Replaces the connection's per-statement timeout for this transaction only: migrations and the
   * wait for another instance's migration lock may take longer than any request should. 0 = none.
   */
  statementTimeoutMs?: number;
  /**
   * The transaction only reads, so it is retried once, like an idempotent query, when the
   * connection broke underneath it. `fn` then runs twice and must not keep effects of the first run.
   */
  idempotent?: boolean;
}

/** A connection inside an open transaction. */
export interface SqlSession {
  /** One statement, sent with the extended protocol so parameters never touch the SQL text. */
  query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlParam[],
  ): Promise<SqlResult<Row>>;
  /** Several statements without parameters (migration files). */
  execScript(sql: string): Promise<void>;
}

export interface SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /** Connection pool occupancy, where there is a pool (PostgreSQL). */
  poolStats?(): { total: number; idle: number; waiting: number };
  query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlParam[],
    options?: QueryOptions,
  ): Promise<SqlResult<Row>>;
  /**
   * Runs `fn` in BEGIN … COMMIT on one connection, ROLLBACK if it throws. Retried only when marked
   * idempotent. Inside `fn`, use only the session it receives: calling the executor again would
   * wait for a second connection (PostgreSQL) or deadlock on the only one (PGlite).
   */
  transaction<T>(fn: (session: SqlSession) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Idempotent. */
  close(): Promise<void>;
}
