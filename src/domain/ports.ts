import type { IdempotencyStore, IdentityStore, RevocationList } from './identity/ports.js';

/**
 * Ports: what the domain needs from the outside world. Providers and storage implement them; the
 * domain never imports an implementation.
 */

export type ChatRole = 'system' | 'user' | 'assistant' | 'developer' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  name?: string;
}

export type GenerationInput =
  { kind: 'text'; prompt: string } | { kind: 'chat'; messages: ChatMessage[] };

export interface GenerationRequest {
  /** Public model id as listed by GET /v1/models. */
  model: string;
  input: GenerationInput;
  maxTokens: number;
  temperature: number;
  topP: number;
  /** Stop sequences; the output ends before the first occurrence of any of them. */
  stop: string[];
  seed?: number;
  /** Aborted when the client goes away; a provider must stop generating promptly. */
  signal: AbortSignal;
}

export type FinishReason = 'stop' | 'length';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export type GenerationEvent =
  { type: 'text'; text: string } | { type: 'done'; finishReason: FinishReason; usage: TokenUsage };

export interface ModelDescriptor {
  id: string;
  ownedBy: string;
  /** Unix seconds. */
  created: number;
}

/** A source of generated text. `generate` yields text pieces in order, then exactly one `done`. */
export interface ModelProvider {
  readonly name: string;
  models(): ModelDescriptor[];
  generate(request: GenerationRequest): AsyncIterable<GenerationEvent>;
  /** Prompt tokens of an input as this provider's model counts them (for rate limiting). */
  countPromptTokens(input: GenerationInput): number;
  close(): Promise<void>;
}

export type UsageOutcome = 'completed' | 'cancelled' | 'failed';

export interface NewUsageRecord {
  requestId: string;
  principalId: string;
  /** null for the platform admin, who belongs to no organization. */
  organizationId: string | null;
  model: string;
  endpoint: 'completions' | 'chat.completions';
  promptTokens: number;
  completionTokens: number;
  outcome: UsageOutcome;
  durationMs: number;
  stream: boolean;
}

export interface UsageRecord extends NewUsageRecord {
  id: string;
  createdAt: Date;
}

export interface UsageBucket {
  /** UTC day, YYYY-MM-DD. */
  date: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

export interface UsageSummaryQuery {
  /** null: the whole platform. */
  organizationId: string | null;
  /** Inclusive UTC days, YYYY-MM-DD. */
  startDate: string;
  endDate: string;
  model?: string;
  /** Keyset position: buckets after this (date, model). */
  after?: { date: string; model: string };
  limit: number;
}

export interface UsageRepository {
  /** Buckets per UTC day and model, ordered by date then model. */
  summarize(query: UsageSummaryQuery): Promise<{ items: UsageBucket[]; hasMore: boolean }>;
  /** Writes one record atomically; a failure leaves nothing behind. */
  record(record: NewUsageRecord): Promise<UsageRecord>;
  findByRequestId(requestId: string): Promise<UsageRecord | null>;
  /** Newest first; `before` is the id of the last record of the previous page. */
  list(options: { limit: number; before?: string }): Promise<UsageRecord[]>;
}

/** The storage back-end as the rest of the application sees it. */
export interface Storage {
  readonly kind: 'postgres' | 'pglite';
  readonly usage: UsageRepository;
  readonly identity: IdentityStore;
  readonly revocations: RevocationList;
  readonly idempotency: IdempotencyStore;
  /** Throws when the database cannot answer; used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
