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
import { toUsageRecord, USAGE_COLUMNS } from './usage-row.js';
import type { UsageRow } from './usage-row.js';

const INSERT = `
  insert into usage_records (id, request_id, principal_id, model, endpoint, prompt_tokens,
    completion_tokens, outcome, duration_ms, stream, organization_id)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
  returning ${USAGE_COLUMNS}`;

interface SummaryRow {
  date: string;
  model: string;
  requests: number | string;
  prompt_tokens: number | string;
  completion_tokens: number | string;
}

// Row-level security decides whose rows are summed: one organization's, or (cross-tenant) all.
const SUMMARIZE = `
  select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as date, model,
    count(*) as requests, sum(prompt_tokens) as prompt_tokens,
    sum(completion_tokens) as completion_tokens
  from usage_records
  where created_at >= $1::timestamptz and created_at < $2::timestamptz + interval '1 day'
    and ($3::text is null or model = $3::text)
  group by 1, 2
  having $4::text is null or (to_char(created_at at time zone 'UTC', 'YYYY-MM-DD'), model) > ($4::text, $5::text)
  order by 1, 2
  limit $6`;

const FIND_BY_REQUEST_ID = `select ${USAGE_COLUMNS} from usage_records where request_id = $1`;

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
        ],
        false,
        record.organizationId === null ? CROSS_TENANT : tenant(record.organizationId),
      );
      const [row] = rows;
      if (!row) throw new Error('INSERT … RETURNING returned no row');
      return toUsageRecord(row);
    } catch (error) {
      if (isUniqueViolation(error, 'usage_records_request_id_key')) {
        throw new AppError('CONFLICT', {
          message: `Usage for request ${record.requestId} is already recorded`,
          cause: error,
        });
      }
      throw error;
    }
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
    const { rows } = await this.#query<SummaryRow>(
      SUMMARIZE,
      [
        `${query.startDate}T00:00:00Z`,
        `${query.endDate}T00:00:00Z`,
        query.model ?? null,
        query.after?.date ?? null,
        query.after?.model ?? null,
        query.limit + 1,
      ],
      true,
      query.organizationId === null ? CROSS_TENANT : tenant(query.organizationId),
    );
    return {
      items: rows.slice(0, query.limit).map((row) => ({
        date: row.date,
        model: row.model,
        requests: Number(row.requests),
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
      })),
      hasMore: rows.length > query.limit,
    };
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
