import type { CacheStatus, ResponseCache } from '../../cache/response-cache.js';
import type {
  FinishReason,
  GenerationEvent,
  GenerationInput,
  NewUsageRecord,
  TokenUsage,
} from '../../ports.js';
import type { Principal } from '../../principal.js';
import type { ChatCompletionBody } from '../chat-request.js';

export interface CompletionContext {
  principal: Principal;
  requestId: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export interface CompletionParams {
  endpoint: Exclude<NewUsageRecord['endpoint'], 'embeddings'>;
  model: string;
  input: GenerationInput;
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed?: number;
  stream: boolean;
  /** A Chat Completions request as the client sent it (see GenerationRequest.chat). */
  chat?: ChatCompletionBody;
  /** 'bypass' when the client opted out of the response cache (Cache-Control: no-cache). */
  cacheMode: 'use' | 'bypass';
}

export interface Generation {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  /**
   * The first event (already received: fallbacks are over), then the rest; iterate once. Usage
   * is recorded when it ends, however it ends — also when it is never iterated and the client
   * leaves.
   */
  events: AsyncIterable<GenerationEvent>;
  cache: CacheStatus;
  /** Time spent waiting on the model so far (Server-Timing separates it from our own). */
  timing: { upstreamMs: number };
}

export interface AssembledToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A whole answer, assembled from a generation's events. */
export interface Answer {
  text: string;
  /** Tool calls in `index` order, arguments concatenated; absent when there were none. */
  toolCalls?: AssembledToolCall[];
  /** The model's refusal, when it refused; absent otherwise. */
  refusal?: string;
  /** The upstream's whole `chat.completion` when it was relayed in the client's dialect. */
  relayed?: Record<string, unknown>;
  finishReason: FinishReason;
  usage: TokenUsage;
}

export interface CompletedGeneration extends Answer {
  id: string;
  created: number;
  model: string;
  cache: CacheStatus;
  timing: { upstreamMs: number };
}

export interface CompletionCacheSettings {
  store: ResponseCache;
  ttlSeconds: number;
}
