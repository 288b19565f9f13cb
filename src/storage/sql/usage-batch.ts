import { AppError } from '../../domain/errors.js';
import type { NewUsageRecord } from '../../domain/ports.js';
import { newId } from '../ids.js';

export type TimedUsageRecord = NewUsageRecord & { createdAt: Date };

// One INSERT for the whole batch: the rows travel as a single JSON parameter, so the statement and
// its parameter count stay the same for any batch size, and a null organization needs no special
// encoding. The roll-up into usage_daily happens in this statement (trigger of migration 003).
//
// Keyed on the completion id, which the server makes, so a batch sent again after a lost commit adds
// nothing while no client-chosen value (X-Request-Id) can merge or suppress anyone's records.
// Ordered by that key: a row waits for a concurrent transaction inserting the same key, so two
// batches sharing keys in opposite orders would deadlock; in one order they queue.
export const INSERT_BATCH = `
  insert into usage_records (id, completion_id, request_id, principal_id, organization_id, model,
    endpoint, prompt_tokens, completion_tokens, outcome, duration_ms, stream, created_at)
  select id, completion_id, request_id, principal_id, organization_id, model, endpoint,
    prompt_tokens, completion_tokens, outcome, duration_ms, stream, created_at
  from json_to_recordset($1::json) as batch (id text, completion_id text, request_id text,
    principal_id text, organization_id text, model text, endpoint text, prompt_tokens integer,
    completion_tokens integer, outcome text, duration_ms integer, stream boolean,
    created_at timestamptz)
  order by completion_id
  on conflict (completion_id) do nothing`;

/** The first record of each completion id wins, as it would had they come one by one. */
export function batchParameter(records: readonly TimedUsageRecord[]): string {
  const firsts = new Map<string, TimedUsageRecord>();
  for (const record of records) {
    if (!firsts.has(record.completionId)) firsts.set(record.completionId, record);
  }
  return JSON.stringify(
    [...firsts.values()].map((record) => ({
      id: newId('usage'),
      completion_id: record.completionId,
      request_id: record.requestId,
      principal_id: record.principalId,
      organization_id: record.organizationId,
      model: record.model,
      endpoint: record.endpoint,
      prompt_tokens: record.promptTokens,
      completion_tokens: record.completionTokens,
      outcome: record.outcome,
      duration_ms: record.durationMs,
      stream: record.stream,
      created_at: record.createdAt.toISOString(),
    })),
  );
}

/**
 * SQLSTATE classes 22 (data exception: a non-integer token count) and 23 (integrity constraint
 * violation: a CHECK, a null): the rows themselves are wrong, so sending them again cannot help.
 * Anything else (connection, timeout, server shutting down) may pass on a later try.
 */
export function refusalOf(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code } = error as { code?: unknown };
  if (typeof code !== 'string' || !/^2[23][0-9A-Z]{3}$/.test(code)) return undefined;
  return new AppError('VALIDATION_ERROR', {
    message: 'The database refused a usage record of the batch',
    cause: error,
  });
}
