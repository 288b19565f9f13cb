import type { NewUsageRecord, UsageOutcome, UsageRecord } from '../../domain/ports.js';

export const USAGE_COLUMNS =
  'id, completion_id, request_id, principal_id, organization_id, model, endpoint, prompt_tokens, completion_tokens, outcome, ' +
  'duration_ms, stream, created_at';

/** As the drivers hand it over; typed loosely because the two engines parse types on their own. */
export interface UsageRow {
  id: string;
  completion_id: string;
  request_id: string;
  principal_id: string;
  organization_id: string | null;
  model: string;
  endpoint: string;
  prompt_tokens: number | string;
  completion_tokens: number | string;
  outcome: string;
  duration_ms: number | string;
  stream: boolean;
  created_at: Date | string;
}

const ENDPOINTS: ReadonlySet<string> = new Set<NewUsageRecord['endpoint']>([
  'completions',
  'chat.completions',
  'embeddings',
]);
const OUTCOMES: ReadonlySet<string> = new Set<UsageOutcome>(['completed', 'cancelled', 'failed']);

export function toUsageRecord(row: UsageRow): UsageRecord {
  return {
    id: row.id,
    completionId: row.completion_id,
    requestId: row.request_id,
    principalId: row.principal_id,
    organizationId: row.organization_id,
    model: row.model,
    endpoint: endpointOf(row.endpoint),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    outcome: outcomeOf(row.outcome),
    durationMs: Number(row.duration_ms),
    stream: row.stream,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
  };
}

// The CHECK constraints make these unreachable unless the schema and this code drift apart.
function endpointOf(value: string): NewUsageRecord['endpoint'] {
  if (!ENDPOINTS.has(value)) throw new Error(`Unexpected usage endpoint in database: ${value}`);
  return value as NewUsageRecord['endpoint'];
}

function outcomeOf(value: string): UsageOutcome {
  if (!OUTCOMES.has(value)) throw new Error(`Unexpected usage outcome in database: ${value}`);
  return value as UsageOutcome;
}
