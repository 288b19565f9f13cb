import type {
  IdempotencyStore,
  IdentityStore,
  RevocationBacklog,
  RevocationList,
} from './identity/ports.js';
import type { ChatCompletionBody, ChatRole } from './inference/chat-request.js';
import type { ChatSupport } from './inference/chat-support.js';
import type { RouteCapabilities } from './inference/capabilities.js';
import type { EmbeddingProvider } from './inference/embeddings.js';

/**
 * Ports: what the domain needs from the outside world. Providers and storage implement them; the
 * domain never imports an implementation.
 */

export type { ChatRole };

export interface ChatMessage {
  role: ChatRole;
  content: string;
  name?: string;
}

export type GenerationInput =
  { kind: 'text'; prompt: string } | { kind: 'chat'; messages: ChatMessage[] };

export interface GenerationRequest {
  /**
   * The model as the provider knows it: for the local provider its public id, for an upstream
   * the upstream model name from the routing table.
   */
  model: string;
  /** Per-attempt budget from the routing table; the provider enforces it (UPSTREAM_TIMEOUT). */
  timeoutMs?: number;
  /** W3C traceparent etc. to forward upstream (filled by later observability work). */
  forwardHeaders?: Record<string, string>;
  input: GenerationInput;
  maxTokens: number;
  temperature: number;
  topP: number;
  /** Stop sequences; the output ends before the first occurrence of any of them. */
  stop: string[];
  seed?: number;
  /**
   * The client's Chat Completions request as validated: the canonical chat request. A provider of
   * that dialect forwards it with only `model` rewritten and the gateway's own fields removed,
   * and answers with `relay` events; a translating provider reads tools, parts, response_format
   * and sampling fields from it (and `input`/the fields above for what they already cover).
   * Absent for POST /v1/completions.
   */
  chat?: ChatCompletionBody;
  /** Aborted when the client goes away; a provider must stop generating promptly. */
  signal: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens the upstream served from its prompt cache, when it reports them. */
  cachedTokens?: number;
  /** Completion tokens spent on hidden reasoning, when the upstream reports them. */
  reasoningTokens?: number;
}

/**
 * What a provider yields. Translating providers (local, Anthropic) speak in canonical events —
 * `text`, `toolCall`, `refusal`, then `done` — and the HTTP edge renders them in the client's
 * dialect. A provider of the client's own dialect yields `relay` events instead, whose bytes the
 * edge passes on unchanged but for `id`, `model` and `created`. `tokens` on any event counts the
 * completion tokens generated since the previous one: what a generation that never reaches
 * `done` (the client left, the upstream failed) is metered on. Omitted: none.
 */
export type GenerationEvent =
  | { type: 'text'; text: string; tokens?: number }
  | {
      /**
       * A piece of the tool call at `index` (0, 1, … in the order calls start): its first piece
       * carries `id` and `name`; every piece may carry a fragment of the JSON `arguments`.
       */
      type: 'toolCall';
      index: number;
      id?: string;
      name?: string;
      arguments: string;
      tokens?: number;
    }
  | { type: 'refusal'; text: string; tokens?: number }
  | {
      /**
       * One `chat.completion.chunk` of a streamed upstream answer, or the whole `chat.completion`
       * of a non-streamed one, in the client's own dialect. `text` is its first choice's content
       * (for the response cache).
       */
      type: 'relay';
      data: Record<string, unknown>;
      text: string;
      tokens: number;
    }
  | { type: 'done'; finishReason: FinishReason; usage: TokenUsage };

export interface ModelDescriptor {
  id: string;
  ownedBy: string;
  /** Unix seconds. */
  created: number;
  /** Set for routed models (GET /v1/models); a provider's own listing leaves it out. */
  capabilities?: RouteCapabilities;
}

/** One place a public model can be served from (a row of the routing table). */
export interface UpstreamTarget {
  /** Name of a configured provider: 'local', 'openai', 'anthropic' or one from MODELS_FILE. */
  provider: string;
  /** The model name that provider knows. */
  model: string;
  /** Share of traffic among the route's `targets` (not used for `fallbacks`). */
  weight: number;
  timeoutMs: number;
}

export interface ModelRoute {
  /** Public model id. */
  id: string;
  ownedBy: string;
  created: number;
  /** Picked by weight for each request. */
  targets: UpstreamTarget[];
  /** Tried in order when the picked target fails before sending anything. */
  fallbacks: UpstreamTarget[];
  /** What the route may be used for; unset: DEFAULT_CAPABILITIES. */
  capabilities?: RouteCapabilities;
}

/**
 * A source of generated text. `generate` yields text pieces in order, then exactly one `done`.
 * Upstream failures are AppError('UPSTREAM_ERROR' | 'UPSTREAM_TIMEOUT'); one thrown before the
 * first event lets the router fall back to another target.
 */
/**
 * What a generation costs this instance: `local` holds one of a few model contexts and CPU for its
 * whole length; `upstream` holds a socket while another service computes.
 */
export type GenerationCapacity = 'local' | 'upstream';

export interface ModelProvider {
  readonly name: string;
  readonly capacity: GenerationCapacity;
  models(): ModelDescriptor[];
  generate(request: GenerationRequest): AsyncIterable<GenerationEvent>;
  /** Prompt tokens of an input as `model` (the provider's name for it) counts them. */
  countPromptTokens(input: GenerationInput, model: string): number;
  /** What it honours of a chat request; absent: the plain fields only (plainChatSupport). */
  readonly chatSupport?: ChatSupport;
  /** Absent: the provider cannot embed (Anthropic has no embeddings API). */
  readonly embeddings?: EmbeddingProvider;
  close(): Promise<void>;
}

export type UsageOutcome = 'completed' | 'cancelled' | 'failed';

export interface NewUsageRecord {
  /**
   * The id the response carried (cmpl-…, chatcmpl-…), made by the server for every completion:
   * the key that makes each one count exactly once, however often a batch is sent.
   */
  completionId: string;
  /** The caller's X-Request-Id (or the one made for it): for correlation only, never unique. */
  requestId: string;
  principalId: string;
  /** null for the platform admin, who belongs to no organization. */
  organizationId: string | null;
  model: string;
  endpoint: 'completions' | 'chat.completions' | 'embeddings';
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
  /** Buckets per UTC day and model, ordered by date then model; read from the daily totals. */
  summarize(query: UsageSummaryQuery): Promise<{ items: UsageBucket[]; hasMore: boolean }>;
  /**
   * Writes one record atomically; a failure leaves nothing behind. AppError('CONFLICT') when its
   * completion id is already recorded.
   */
  record(record: NewUsageRecord): Promise<UsageRecord>;
  /**
   * Writes a batch in one transaction, daily totals included; `createdAt` is when each request
   * ended, since a batch is written later. A completion id already recorded (also twice in one
   * batch) is skipped, not an error, so a batch can be sent again safely. Resolves with the number
   * of rows that were new. AppError('VALIDATION_ERROR') when the database refuses a row's content
   * (a CHECK constraint): the whole batch is refused and sending it again cannot help.
   */
  recordMany(
    records: readonly (NewUsageRecord & { createdAt: Date })[],
  ): Promise<{ inserted: number }>;
  /**
   * Retention: deletes raw records created more than `olderThanDays` days ago, at most
   * `batchSize` per transaction, until none is left or `signal` aborts. Daily totals are kept, so
   * `summarize` answers the same before and after.
   */
  pruneUsage(options: {
    olderThanDays: number;
    batchSize: number;
    signal?: AbortSignal;
  }): Promise<{ deleted: number }>;
  findByCompletionId(completionId: string): Promise<UsageRecord | null>;
  /** The newest record carrying this request id; several may, as the caller chose the id. */
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
  /** What a shared revocation list (Redis) missed while unreachable; see FailoverRevocationList. */
  readonly revocationBacklog: RevocationBacklog;
  readonly idempotency: IdempotencyStore;
  /** Throws when the database cannot answer; used by /readyz. */
  ping(): Promise<void>;
  /** Connection pool occupancy, for metrics (PostgreSQL only). */
  poolStats?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}
