import type { CachedCompletion } from '../../../../src/domain/cache/response-cache.js';
import type { ChatSupport } from '../../../../src/domain/inference/chat-support.js';
import type { RouteCapabilities } from '../../../../src/domain/inference/capabilities.js';
import type { WindowLimit } from '../../../../src/domain/rate-limit/ports.js';
import { GenerationGate } from '../../../../src/domain/load/generation-gate.js';
import { silentLogger } from '../../../../src/domain/logger.js';
import { silentObserver, type InferenceObserver } from '../../../../src/domain/observability.js';
import type {
  GenerationEvent,
  ModelRoute,
  NewUsageRecord,
  TokenUsage,
} from '../../../../src/domain/ports.js';
import type { Principal } from '../../../../src/domain/principal.js';
import { SCOPES } from '../../../../src/domain/principal.js';
import { RateLimitService } from '../../../../src/domain/rate-limit/rate-limit-service.js';
import { ModelRouter } from '../../../../src/domain/routing/model-router.js';
import {
  CompletionService,
  type CompletionContext,
  type CompletionParams,
} from '../../../../src/domain/services/completion-service.js';
import { MemoryResponseCache } from '../../../../src/storage/cache/memory-response-cache.js';
import { MemoryRateLimitStore } from '../../../../src/storage/rate-limit/memory-rate-limit-store.js';
import { ScriptedProvider, type Behaviour } from '../../routing/scripted-provider.js';

export const USAGE: TokenUsage = { promptTokens: 5, completionTokens: 3 };

export function done(
  finishReason: Extract<GenerationEvent, { type: 'done' }>['finishReason'] = 'stop',
  usage: TokenUsage = USAGE,
): GenerationEvent {
  return { type: 'done', finishReason, usage };
}

/** Yields the events in order, then ends (without `done` unless one is listed). */
export function scripted(...events: GenerationEvent[]): Behaviour {
  return async function* () {
    yield* events;
  };
}

/** Yields the events, then waits until the request is aborted and throws its reason. */
export function hangsAfter(...events: GenerationEvent[]): Behaviour {
  return async function* (request) {
    yield* events;
    await new Promise((_, reject) => {
      const stop = () => reject(request.signal.reason as Error);
      if (request.signal.aborted) stop();
      request.signal.addEventListener('abort', stop);
    });
  };
}

/** A scripted provider that declares what it honours of a chat request. */
export class ChatProvider extends ScriptedProvider {
  constructor(
    name: string,
    behaviour: Behaviour,
    readonly chatSupport?: ChatSupport,
  ) {
    super(name, behaviour);
  }
}

/** The real memory store, remembering what was reserved and settled. */
export class RecordingRateLimitStore extends MemoryRateLimitStore {
  readonly reserved: number[] = [];
  readonly settled: number[] = [];

  override reserve(windows: WindowLimit[], amount: number, id: string) {
    this.reserved.push(amount);
    return super.reserve(windows, amount, id);
  }

  override settle(windows: WindowLimit[], id: string, actual: number) {
    this.settled.push(actual);
    return super.settle(windows, id, actual);
  }
}

export type Finished = Parameters<InferenceObserver['generationFinished']>[0];
export type Attempted = Parameters<InferenceObserver['upstreamAttempt']>[0];

export interface Harness {
  service: CompletionService;
  providers: ScriptedProvider[];
  usage: NewUsageRecord[];
  finished: Finished[];
  attempts: Attempted[];
  store: RecordingRateLimitStore;
  gate: GenerationGate;
  cache: MemoryResponseCache;
  cacheSets: CachedCompletion[];
}

export interface HarnessOptions {
  /** The route's rows in order: the first is its target, the rest its fallbacks. */
  providers: ScriptedProvider[];
  capabilities?: RouteCapabilities;
  /** Tokens per minute; small values make the reservation refuse. */
  tokensPerMinute?: number;
  maxConcurrent?: number;
}

export function harness(options: HarnessOptions): Harness {
  const [target, ...fallbacks] = options.providers;
  const row = (provider: ScriptedProvider) => ({
    provider: provider.name,
    model: `${provider.name}-model`,
    weight: 1,
    timeoutMs: 1000,
  });
  const route: ModelRoute = {
    id: 'm',
    ownedBy: 'team',
    created: 1,
    targets: target ? [row(target)] : [],
    fallbacks: fallbacks.map(row),
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  };
  const router = new ModelRouter({
    routes: [route],
    providers: new Map(options.providers.map((p) => [p.name, p])),
  });
  const store = new RecordingRateLimitStore();
  const tpm = options.tokensPerMinute ?? 100_000;
  const limits = new RateLimitService(store, {
    enabled: true,
    defaults: { requestsPerMinute: 1000, tokensPerMinute: tpm },
    organizationMultiplier: 1,
    addressRequestsPerMinute: 1000,
  });
  const gateOptions = {
    maxConcurrent: options.maxConcurrent ?? 4,
    maxQueued: 0,
    queueTimeoutMs: 50,
    overload: { reason: () => null },
  };
  const gate = new GenerationGate(gateOptions);
  const cache = new MemoryResponseCache();
  const cacheSets: CachedCompletion[] = [];
  const set = cache.set.bind(cache);
  cache.set = (key, value, ttl) => {
    cacheSets.push(value);
    return set(key, value, ttl);
  };
  const usage: NewUsageRecord[] = [];
  const finished: Finished[] = [];
  const attempts: Attempted[] = [];
  const service = new CompletionService({
    router,
    usage: { record: (record) => void usage.push(record) },
    limits,
    gates: { local: gate, upstream: gate },
    logger: silentLogger,
    cache: { store: cache, ttlSeconds: 60 },
    observer: {
      ...silentObserver,
      generationFinished: (event) => void finished.push(event),
      upstreamAttempt: (event) => void attempts.push(event),
    },
  });
  return {
    service,
    providers: options.providers,
    usage,
    finished,
    attempts,
    store,
    gate,
    cache,
    cacheSets,
  };
}

export const principal: Principal = {
  kind: 'user',
  id: 'user-1',
  userId: 'user-1',
  organizationId: 'org-1',
  role: 'member',
  scopes: new Set(SCOPES),
  credential: { type: 'api_key', keyId: 'key-1', expiresAt: null },
  rateLimit: null,
};

export function context(
  signal: AbortSignal = new AbortController().signal,
  who: Principal = principal,
): CompletionContext {
  return { principal: who, requestId: 'req-1', signal };
}

export function params(overrides: Partial<CompletionParams> = {}): CompletionParams {
  return {
    endpoint: 'chat.completions',
    model: 'm',
    input: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] },
    maxTokens: 16,
    temperature: 0,
    topP: 1,
    stop: [],
    stream: false,
    cacheMode: 'use',
    ...overrides,
  };
}

/** Reads every event, keeping what was seen and the error the stream ended with, if any. */
export async function drain(events: AsyncIterable<GenerationEvent>) {
  const seen: GenerationEvent[] = [];
  try {
    for await (const event of events) seen.push(event);
    return { seen, error: undefined as unknown };
  } catch (error) {
    return { seen, error };
  }
}

export async function settledWork(): Promise<void> {
  // Settling a reservation is fire-and-forget; let it land.
  await new Promise((resolve) => setImmediate(resolve));
}
