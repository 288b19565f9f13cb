import { AppError } from '../../domain/errors.js';
import type {
  NewUsageRecord,
  UsageBucket,
  UsageRecord,
  UsageRepository,
  UsageSummaryQuery,
} from '../../domain/ports.js';
import type { SqlExecutor, SqlParam, SqlResult } from '../executor.js';
import { newId } from '../ids.js';
import { CROSS_TENANT, inScope, tenant, type RowScope } from './row-scope.js';
import { isUniqueViolation } from './sql-errors.js';
import { batchParameter, INSERT_BATCH, refusalOf } from './usage-batch.js';
import type { TimedUsageRecord } from './usage-batch.js';
import { toUsageRecord, USAGE_COLUMNS } from './usage-row.js';
import type { UsageRow } from './usage-row.js';
import { summaryStatement, toSummaryPage } from './usage-summary.js';
import type { SummaryRow } from './usage-summary.js';

const INSERT = `
  insert into usage_records (id, request_id, principal_id, model, endpoint, prompt_tokens,
    completion_tokens, outcome, duration_ms, stream, organization_id, completion_id)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
  returning ${USAGE_COLUMNS}`;

// Oldest first through usage_records_created_at_id_idx. SKIP LOCKED: instances pruning in the same
// hour share the work instead of queueing behind each other's locked rows.
const PRUNE_BATCH = `
  delete from usage_records where id in (
    select id from usage_records where created_at < $1::timestamptz
    order by created_at
    limit $2
    for update skip locked)`;

const DAY_MS = 86_400_000;

const FIND_BY_COMPLETION_ID = `select ${USAGE_COLUMNS} from usage_records where completion_id = $1`;

const FIND_BY_REQUEST_ID = `
  select ${USAGE_COLUMNS} from usage_records where request_id = $1
  order by created_at desc, id desc
  limit 1`;

const LIST_FIRST_PAGE = `
  select ${USAGE_COLUMNS} from usage_records
  order by created_at desc, id desc
  limit $1`;

// The cursor row is looked up in SQL rather than passed as a timestamp: created_at has microsecond
// precision and a JavaScript Date would round it, skipping or repeating rows at page boundaries.
const LIST_AFTER_CURSOR = `
  select ${USAGE_COLUMNS} from usage_records
  where (created_at, id) < (select created_at, id from usage_records where id = $2)
  order by created_at desc, id desc
  limit $1`;

/**
 * Cross-tenant for now: records carry no organization yet (migration 002 added the nullable column)
 * and the list is the platform's. Running as the application role all the same keeps this working
 * when the connecting user owns the tables without being a superuser, as forced row-level security
 * then applies to it too.
 */
export class SqlUsageRepository implements UsageRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** One INSERT statement, so a failure leaves nothing behind. */
  async record(record: NewUsageRecord): Promise<UsageRecord> {
    try {
      const { rows } = await this.#query<UsageRow>(
        INSERT,
        [
          newId('usage'),
          record.requestId,
          record.principalId,
          record.model,
          record.endpoint,
          record.promptTokens,
          record.completionTokens,
          record.outcome,
          record.durationMs,
          record.stream,
          record.organizationId,
          record.completionId,
        ],
        false,
        record.organizationId === null ? CROSS_TENANT : tenant(record.organizationId),
      );
      const [row] = rows;
      if (!row) throw new Error('INSERT … RETURNING returned no row');
      return toUsageRecord(row);
    } catch (error) {
      if (isUniqueViolation(error, 'usage_records_completion_id_key')) {
        throw new AppError('CONFLICT', {
          message: `Usage for completion ${record.completionId} is already recorded`,
          cause: error,
        });
      }
      throw error;
    }
  }

  async findByCompletionId(completionId: string): Promise<UsageRecord | null> {
    const { rows } = await this.#query<UsageRow>(FIND_BY_COMPLETION_ID, [completionId], true);
    const [row] = rows;
    return row ? toUsageRecord(row) : null;
  }

  async findByRequestId(requestId: string): Promise<UsageRecord | null> {
    const { rows } = await this.#query<UsageRow>(FIND_BY_REQUEST_ID, [requestId], true);
    const [row] = rows;
    return row ? toUsageRecord(row) : null;
  }

  /** An unknown `before` id yields an empty page; telling callers apart is the service's job. */
  async list(options: { limit: number; before?: string }): Promise<UsageRecord[]> {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(`list limit must be a positive integer, got ${options.limit}`);
    }
    const { rows } =
      options.before === undefined
        ? await this.#query<UsageRow>(LIST_FIRST_PAGE, [options.limit], true)
        : await this.#query<UsageRow>(LIST_AFTER_CURSOR, [options.limit, options.before], true);
    return rows.map(toUsageRecord);
  }

  async summarize(query: UsageSummaryQuery): Promise<{ items: UsageBucket[]; hasMore: boolean }> {
    const { sql, params } = summaryStatement(query);
    const { rows } = await this.#query<SummaryRow>(
      sql,
      params,
      true,
      query.organizationId === null ? CROSS_TENANT : tenant(query.organizationId),
    );
    return toSummaryPage(rows, query.limit);
  }

  /**
   * Cross-tenant, one statement for the whole batch, rather than one tenant-scoped transaction per
   * organization in it: each row's organization comes from the authenticated principal that made
   * the request, not from this session, so a tenant scope would only check the column against a
   * setting copied from that same column, while turning a batch spanning 50 organizations into
   * 50 transactions. Reads stay tenant-scoped. Still the application role, so the grants hold.
   */
  async recordMany(records: readonly TimedUsageRecord[]): Promise<{ inserted: number }> {
    if (records.length === 0) return { inserted: 0 };
    try {
      const { rowCount } = await this.#query(INSERT_BATCH, [batchParameter(records)], false);
      return { inserted: rowCount };
    } catch (error) {
      throw refusalOf(error) ?? error;
    }
  }

  /**
   * The cut-off is fixed when pruning starts, so it ends even while rows keep ageing past it. One
   * transaction per batch keeps locks and WAL bursts short on a large backlog (the first run after
   * USAGE_RETENTION_DAYS is set). usage_daily is not touched: /v1/usage history stays complete.
   */
  async pruneUsage(options: {
    olderThanDays: number;
    batchSize: number;
    signal?: AbortSignal;
  }): Promise<{ deleted: number }> {
    const { olderThanDays, batchSize, signal } = options;
    if (!Number.isInteger(olderThanDays) || olderThanDays < 1) {
      throw new RangeError(`olderThanDays must be a positive integer, got ${olderThanDays}`);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    const cutoff = new Date(Date.now() - olderThanDays * DAY_MS);
    let deleted = 0;
    while (!signal?.aborted) {
      const { rowCount } = await this.#query(PRUNE_BATCH, [cutoff, batchSize], false);
      deleted += rowCount;
      if (rowCount < batchSize) break;
    }
    return { deleted };
  }

  async #query<Row extends object>(
    sql: string,
    params: SqlParam[],
    readOnly: boolean,
    scope: RowScope = CROSS_TENANT,
  ): Promise<SqlResult<Row>> {
    return await inScope(this.#db, scope, (session) => session.query<Row>(sql, params), {
      readOnly,
    });
  }
}
