import pg from 'pg';
import type { PoolClient, QueryConfig, QueryResultRow } from 'pg';
import type { Logger } from '../../domain/logger.js';
import type {
  QueryOptions,
  SqlExecutor,
  SqlParam,
  SqlResult,
  SqlSession,
  TransactionOptions,
} from '../executor.js';
import { isConnectionLoss, isStatementError } from './connection-errors.js';

export interface PostgresExecutorOptions {
  url: string;
  poolSize: number;
  connectionTimeoutMs: number;
  /** Server-side limit per statement; 0 leaves the server's setting alone. */
  statementTimeoutMs: number;
  /** How long an unused pooled connection is kept open. */
  idleTimeoutMs?: number;
  /** The server ends a session left idle inside an open transaction for this long. */
  idleInTransactionTimeoutMs?: number;
  applicationName?: string;
  logger: Logger;
}

// Extra time the client waits beyond statement_timeout before it gives up on a silent server (a
// network partition, where the server-side timeout can never reach us).
const CLIENT_TIMEOUT_MARGIN_MS = 5_000;
// pg treats a query_timeout of 0 as "use the pool's", so "no limit" has to be spelled as the
// longest timer Node supports (about 24 days).
const NO_CLIENT_TIMEOUT_MS = 2 ** 31 - 1;

/** Client-side read timeout matching a server-side statement timeout (0 = none). */
function clientTimeoutFor(statementTimeoutMs: number): number {
  return statementTimeoutMs > 0
    ? statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS
    : NO_CLIENT_TIMEOUT_MS;
}

interface Lease {
  client: PoolClient;
  /** Set when the connection must be destroyed instead of going back to the pool. */
  broken: Error | undefined;
  /** A ROLLBACK went through after the failure, so the session is known to be usable. */
  rolledBack: boolean;
}

export class PostgresExecutor implements SqlExecutor {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;

  poolStats(): { total: number; idle: number; waiting: number } {
    return {
      total: this.#pool.totalCount,
      idle: this.#pool.idleCount,
      waiting: this.#pool.waitingCount,
    };
  }
  constructor(options: PostgresExecutorOptions) {
    this.#logger = options.logger;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectionTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      // pg sends these as startup parameters, so every pooled connection has them from the start.
      statement_timeout: options.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
      query_timeout:
        options.statementTimeoutMs > 0 ? clientTimeoutFor(options.statementTimeoutMs) : undefined,
      application_name: options.applicationName ?? 'inference-api',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle pooled connection that dies (server restart, pg_terminate_backend) is removed by the
    // pool, which then emits this; without a listener Node would crash the process.
    this.#pool.on('error', (error) => {
      this.#logger.warn({ err: error }, 'idle database connection failed and was discarded');
    });
  }

  async query<Row extends object = Record<string, unknown>>(
    sql: string,
    params: readonly SqlParam[] = [],
    options: QueryOptions = {},
  ): Promise<SqlResult<Row>> {
    try {
      return await this.#withClient((lease) => run<Row>(lease.client, sql, params));
    } catch (error) {
      // Reads only, and once: a write may have committed just before the connection broke, and a
      // second failure means the database itself is in trouble, not one connection.
      if (!options.idempotent || !isConnectionLoss(error)) throw error;
      this.#logger.warn({ err: error }, 'database connection lost; retrying read once');
      return await this.#withClient((lease) => run<Row>(lease.client, sql, params));
    }
  }

  async transaction<T>(
    fn: (session: SqlSession) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    try {
      return await this.#transactionOnce(fn, options);
    } catch (error) {
      // Same rule as for single reads: once, and only when nothing in it can have been written.
      if (!options.idempotent || !isConnectionLoss(error)) throw error;
      this.#logger.warn({ err: error }, 'database connection lost; retrying read-only transaction');
      return await this.#transactionOnce(fn, options);
    }
  }

  async #transactionOnce<T>(
    fn: (session: SqlSession) => Promise<T>,
    options: TransactionOptions,
  ): Promise<T> {
    const { statementTimeoutMs } = options;
    const clientTimeout =
      statementTimeoutMs === undefined ? undefined : clientTimeoutFor(statementTimeoutMs);
    return await this.#withClient(async (lease) => {
      const { client } = lease;
      await client.query('begin');
      try {
        if (statementTimeoutMs !== undefined) {
          await run(client, `select set_config('statement_timeout', $1, true)`, [
            String(statementTimeoutMs),
          ]);
        }
        const result = await fn({
          query: (sql, params = []) => run(client, sql, params, clientTimeout),
          execScript: async (sql) => {
            const script: PgQueryConfig = { text: sql };
            if (clientTimeout !== undefined) script.query_timeout = clientTimeout;
            await client.query(script);
          },
        });
        await client.query('commit');
        return result;
      } catch (error) {
        try {
          await client.query('rollback');
          lease.rolledBack = true;
        } catch (rollbackError) {
          lease.broken ??= asError(rollbackError);
        }
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    this.#closing ??= this.#pool.end();
    await this.#closing;
  }

  async #withClient<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const lease: Lease = { client, broken: undefined, rolledBack: false };
    // The pool stops listening while a client is checked out; a backend killed between two
    // statements of a transaction would otherwise surface as an unhandled 'error' event.
    const onError = (error: Error): void => {
      lease.broken ??= error;
      this.#logger.warn({ err: error }, 'database connection failed while in use');
    };
    client.on('error', onError);
    try {
      return await fn(lease);
    } catch (error) {
      if (!lease.rolledBack && !isStatementError(error)) lease.broken ??= asError(error);
      throw error;
    } finally {
      client.off('error', onError);
      client.release(lease.broken ?? false);
    }
  }
}

// Options pg reads from a query config that its type definitions do not list.
interface PgQueryConfig extends QueryConfig {
  queryMode?: 'extended';
  query_timeout?: number;
}

async function run<Row extends object>(
  client: PoolClient,
  sql: string,
  params: readonly SqlParam[],
  clientTimeoutMs?: number,
): Promise<SqlResult<Row>> {
  // Extended protocol even without parameters, so a query is always exactly one statement, as it
  // is on PGlite.
  const config: PgQueryConfig = { text: sql, values: [...params], queryMode: 'extended' };
  if (clientTimeoutMs !== undefined) config.query_timeout = clientTimeoutMs;
  const result = await client.query<QueryResultRow>(config);
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
