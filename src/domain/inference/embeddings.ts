/**
 * The canonical embeddings request and the port a provider implements to serve it. OpenAI's
 * Embeddings API is the only inbound dialect, so its response shape is the canonical answer: an
 * upstream that speaks it is relayed as it answered, fields added tomorrow included.
 */

/** What to embed, one entry per vector wanted; token ids are in the routed model's vocabulary. */
export type EmbeddingInput =
  { kind: 'text'; texts: string[] } | { kind: 'tokens'; tokens: number[][] };

export type EmbeddingEncoding = 'float' | 'base64';

export interface EmbeddingRequest {
  /** The model as the provider knows it (the routing table's upstream name). */
  model: string;
  /** Per-attempt budget from the routing table. */
  timeoutMs?: number;
  forwardHeaders?: Record<string, string>;
  input: EmbeddingInput;
  encodingFormat: EmbeddingEncoding;
  dimensions?: number;
  /**
   * The client's body as validated: what a provider of the same dialect forwards, with only
   * `model` replaced, so that nothing the client sent is lost on the way.
   */
  body: Readonly<Record<string, unknown>>;
  signal: AbortSignal;
}

/** One vector as OpenAI sends it: numbers, or base64 of little-endian float32 bytes. */
export interface EmbeddingItem {
  object: 'embedding';
  index: number;
  embedding: number[] | string;
  [field: string]: unknown;
}

/** An answer in OpenAI's shape; `model` is the provider's name until the service rewrites it. */
export interface EmbeddingResponse {
  object: 'list';
  data: EmbeddingItem[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number; [field: string]: unknown };
  [field: string]: unknown;
}

/** What a provider that can embed offers besides generation. */
export interface EmbeddingProvider {
  /** Whether it can shorten vectors to a requested `dimensions`. */
  readonly dimensions: boolean;
  /**
   * Throws AppError('VALIDATION_ERROR') for input it cannot take (too long, an unknown token id)
   * before any work, and UPSTREAM_ERROR / UPSTREAM_TIMEOUT as generation does, so the router can
   * fall back.
   */
  embed(request: EmbeddingRequest): Promise<EmbeddingResponse>;
  /** Input tokens as `model` counts them, for the token reservation. */
  countTokens(input: EmbeddingInput, model: string): number;
}
