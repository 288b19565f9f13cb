import type { SqlParam, SqlResult, SqlSession } from '../executor.js';

/**
 * A session that remembers its first failed statement. PostgreSQL aborts the transaction on any
 * error, and a COMMIT of an aborted transaction quietly rolls back instead of failing (pg reports
 * no error for it); so a callback that catches, say, a CONFLICT and returns normally would look
 * committed while nothing was. The owner of the transaction throws the latched failure instead.
 */
export class LatchedSession implements SqlSession {
  readonly #session: SqlSession;
  #failure: { error: unknown } | undefined;

  constructor(session: SqlSession) {
    this.#session = session;
  }

  async query<Row extends object = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlParam[],
  ): Promise<SqlResult<Row>> {
    return await this.#latch(() => this.#session.query<Row>(sql, params));
  }

  async execScript(sql: string): Promise<void> {
    await this.#latch(() => this.#session.execScript(sql));
  }

  /** The first failure, if any statement failed. */
  get failure(): { error: unknown } | undefined {
    return this.#failure;
  }

  async #latch<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.#failure ??= { error };
      throw error;
    }
  }
}
