import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NewUsageRecord, UsageRepository } from '../../../src/domain/ports.js';
import type { SqlExecutor } from '../../../src/storage/executor.js';

export type TimedUsage = NewUsageRecord & { createdAt: Date };

export const DAY_MS = 86_400_000;

export function newUsage(overrides: Partial<NewUsageRecord> = {}): NewUsageRecord {
  return {
    completionId: `chatcmpl-${randomUUID()}`,
    requestId: `req_${randomUUID()}`,
    principalId: 'user_usage0001',
    organizationId: 'org_usagetest_a',
    model: 'tiny-wordnet',
    endpoint: 'chat.completions',
    promptTokens: 10,
    completionTokens: 20,
    outcome: 'completed',
    durationMs: 30,
    stream: false,
    ...overrides,
  };
}

export function timedUsage(createdAt: Date | string, overrides: Partial<NewUsageRecord> = {}) {
  return { ...newUsage(overrides), createdAt: new Date(createdAt) } satisfies TimedUsage;
}

/** A writer that forwards to whatever repository `current()` names, counting batch sizes. */
export function countingWriter(current: () => Pick<UsageRepository, 'recordMany'>) {
  const batches: number[] = [];
  return {
    batches,
    recordMany: (records: readonly TimedUsage[]) => {
      batches.push(records.length);
      return current().recordMany(records);
    },
  };
}

/** As the connecting superuser, past row-level security: what is really stored. */
export async function rawCount(executor: SqlExecutor): Promise<number> {
  const { rows } = await executor.query<{ count: number }>(
    'select count(*)::int as count from usage_records',
  );
  return rows[0]?.count ?? -1;
}

export async function requestIds(executor: SqlExecutor): Promise<string[]> {
  const { rows } = await executor.query<{ request_id: string }>(
    'select request_id from usage_records order by request_id',
  );
  return rows.map((row) => row.request_id);
}

interface TotalsRow {
  organization_id: string;
  day: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** The daily totals as stored, in a stable order. */
export async function dailyTotals(executor: SqlExecutor): Promise<TotalsRow[]> {
  const { rows } = await executor.query<TotalsRow>(
    `select coalesce(organization_id, '-') as organization_id, to_char(day, 'YYYY-MM-DD') as day,
       model, requests::int as requests, prompt_tokens::int as prompt_tokens,
       completion_tokens::int as completion_tokens
     from usage_daily order by 1, 2, 3`,
  );
  return rows;
}

/** The same totals computed from the raw records: what the roll-up must always equal. */
export async function totalsFromRaw(executor: SqlExecutor): Promise<TotalsRow[]> {
  const { rows } = await executor.query<TotalsRow>(
    `select coalesce(organization_id, '-') as organization_id,
       to_char((created_at at time zone 'UTC')::date, 'YYYY-MM-DD') as day, model,
       count(*)::int as requests, sum(prompt_tokens)::int as prompt_tokens,
       sum(completion_tokens)::int as completion_tokens
     from usage_records group by 1, 2, 3 order by 1, 2, 3`,
  );
  return rows;
}

export async function waitFor(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
