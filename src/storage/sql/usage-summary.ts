import type { UsageBucket, UsageSummaryQuery } from '../../domain/ports.js';
import type { SqlParam } from '../executor.js';

export interface SummaryRow {
  date: string;
  model: string;
  requests: number | string;
  prompt_tokens: number | string;
  completion_tokens: number | string;
}

export interface SummaryStatement {
  sql: string;
  params: SqlParam[];
}

// Reads the daily totals only: a few rows per day and model, whatever the number of requests.
// Filtering (day, model) before grouping equals the keyset condition on the buckets, as they are
// grouped by exactly those two. Row-level security decides whose totals are summed.
const SELECT = `
  select to_char(day, 'YYYY-MM-DD') as date, model, sum(requests) as requests,
    sum(prompt_tokens) as prompt_tokens, sum(completion_tokens) as completion_tokens
  from usage_daily
  where day between $1::date and $2::date
    and ($3::text is null or model = $3::text)
    and ($4::date is null or (day, model) > ($4::date, $5::text))`;

const TAIL = `
  group by day, model
  order by day, model
  limit $6`;

// Repeats what the tenant's policy enforces anyway: the policy's own condition cannot use an index
// (it is an OR with the cross-tenant switch), this one reads the organization's slice of
// usage_daily_organization_id_day_model_idx instead of filtering every organization's rows.
const SUMMARIZE_TENANT = `${SELECT}
    and organization_id = $7::text${TAIL}`;

const SUMMARIZE_PLATFORM = `${SELECT}${TAIL}`;

/** The SQL GET /v1/usage runs, exported so the benchmark measures exactly this. */
export function summaryStatement(query: UsageSummaryQuery): SummaryStatement {
  const params: SqlParam[] = [
    query.startDate,
    query.endDate,
    query.model ?? null,
    query.after?.date ?? null,
    query.after?.model ?? null,
    query.limit + 1,
  ];
  return query.organizationId === null
    ? { sql: SUMMARIZE_PLATFORM, params }
    : { sql: SUMMARIZE_TENANT, params: [...params, query.organizationId] };
}

/** One row more than asked for is fetched to know whether another page follows. */
export function toSummaryPage(
  rows: SummaryRow[],
  limit: number,
): { items: UsageBucket[]; hasMore: boolean } {
  return {
    items: rows.slice(0, limit).map((row) => ({
      date: row.date,
      model: row.model,
      requests: Number(row.requests),
      promptTokens: Number(row.prompt_tokens),
      completionTokens: Number(row.completion_tokens),
    })),
    hasMore: rows.length > limit,
  };
}
