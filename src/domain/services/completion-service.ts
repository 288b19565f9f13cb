import { randomBytes } from 'node:crypto';
import { requireScope } from '../authorization.js';
import { AppError, isAppError } from '../errors.js';
import {
  cacheKey,
  isCacheable,
  type CachedCompletion,
  type CacheStatus,
  type ResponseCache,
} from '../cache/response-cache.js';
import type { Logger } from '../logger.js';
import {
  silentObserver,
  silentTracing,
  type InferenceObserver,
  type SpanAttributes,
  type SpanScope,
  type Tracing,
} from '../observability.js';
import type { UsageSink } from '../usage/usage-recorder.js';
import type {
  FinishReason,
  GenerationCapacity,
  GenerationEvent,
  GenerationInput,
  NewUsageRecord,
  TokenUsage,
  UsageOutcome,
} from '../ports.js';
import type { Principal } from '../principal.js';
import type { GenerationGate } from '../load/generation-gate.js';
import type { RateLimitService } from '../rate-limit/rate-limit-service.js';
import type { ModelRouter } from '../routing/model-router.js';

export interface CompletionContext {
  principal: Principal;
  requestId: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export interface CompletionParams {
  endpoint: NewUsageRecord['endpoint'];
  model: string;
  input: GenerationInput;
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed?: number;
  stream: boolean;
  /** 'bypass' when the client opted out of the response cache (Cache-Control: no-cache). */
  cacheMode: 'use' | 'bypass';
}

export interface Generation {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  /** Text pieces, then one `done`; iterate once. Usage is recorded when it ends, however it ends. */
  events: AsyncIterable<GenerationEvent>;
  cache: CacheStatus;
  /** Time spent waiting on the model so far (Server-Timing separates it from our own). */
  timing: { upstreamMs: number };
}

export interface CompletedGeneration {
  id: string;
  created: number;
  model: string;
  text: string;
  finishReason: FinishReason;
  usage: TokenUsage;
  cache: CacheStatus;
  timing: { upstreamMs: number };
}

export interface CompletionServiceDeps {
  router: ModelRouter;
  usage: UsageSink;
  limits: RateLimitService;
  /** Local generations and proxied upstream streams cost different things, so each has its own. */
  gates: Record<GenerationCapacity, GenerationGate>;
  logger: Logger;
  cache?: CompletionCacheSettings;
  observer?: InferenceObserver;
  tracing?: Tracing;
}

export interface CompletionCacheSettings {
  store: ResponseCache;
  ttlSeconds: number;
}

function errorCodeOf(error: unknown): string {
  return isAppError(error) ? error.code : 'INTERNAL_ERROR';
}

const OPERATION: Record<CompletionParams['endpoint'], string> = {
  completions: 'text_completion',
  'chat.completions': 'chat',
};

const ID_PREFIX: Record<CompletionParams['endpoint'], string> = {
  completions: 'cmpl-',
  'chat.completions': 'chatcmpl-',
};

export class CompletionService {
  private readonly router: ModelRouter;
  private readonly usage: UsageSink;
  private readonly limits: RateLimitService;
  private readonly gates: Record<GenerationCapacity, GenerationGate>;
  private readonly logger: Logger;
  private readonly cache: CompletionCacheSettings | undefined;
  private readonly observer: InferenceObserver;
  private readonly tracing: Tracing;

  constructor(deps: CompletionServiceDeps) {
    this.router = deps.router;
    this.usage = deps.usage;
    this.limits = deps.limits;
    this.gates = deps.gates;
    this.logger = deps.logger;
    this.cache = deps.cache;
    this.observer = deps.observer ?? silentObserver;
    this.tracing = deps.tracing ?? silentTracing;
  }

  private cacheKeyFor(ctx: CompletionContext, params: CompletionParams): string | null {
    if (!this.cache || params.cacheMode === 'bypass' || !isCacheable(params.temperature))
      return null;
    return cacheKey({
      scope: ctx.principal.organizationId ?? `principal:${ctx.principal.id}`,
      endpoint: params.endpoint,
      model: params.model,
      input: params.input,
      maxTokens: params.maxTokens,
      topP: params.topP,
      stop: params.stop,
      ...(params.seed === undefined ? {} : { seed: params.seed }),
    });
  }

  /**
   * Checks permission, the model, the token limit and the load before anything is generated, so
   * that every refusal is an ordinary HTTP error and never a half-started stream.
   */
  async start(ctx: CompletionContext, params: CompletionParams): Promise<Generation> {
    requireScope(ctx.principal, 'completions:write');
    // An unknown or unservable model is a 422 before anything is reserved.
    this.router.resolve(params.model);
    const id = ID_PREFIX[params.endpoint] + randomBytes(12).toString('base64url');
    const created = Math.floor(Date.now() / 1000);
    const key = this.cacheKeyFor(ctx, params);
    const store = this.cache?.store;
    const hit =
      key === null || !store
        ? null
        : await this.tracing.span('response cache lookup', {}, async (span) => {
            const found = await store.get(key);
            span.setAttributes({ 'inference.cache.hit': found !== null });
            return found;
          });
    if (hit) {
      const timing = { upstreamMs: 0 };
      return {
        id,
        created,
        model: params.model,
        cache: 'hit',
        timing,
        events: this.replay(ctx, params, id, hit, this.generationSpan(params, 'hit')),
      };
    }
    const promptTokens = this.router.countPromptTokens(params.model, params.input);
    const settle = await this.tracing.span(
      'rate limit token reservation',
      { 'inference.reserved_tokens': promptTokens + params.maxTokens },
      () => this.limits.reserveTokens(ctx.principal, promptTokens + params.maxTokens, id),
    );
    let release: () => void;
    try {
      release = await this.gates[this.router.capacityOf(params.model)].acquire(ctx.signal);
    } catch (error) {
      await settle(0);
      throw error;
    }
    const span = this.generationSpan(params, key === null ? 'bypass' : 'miss');
    let finished = false;
    const finish = (actualTokens: number): void => {
      if (finished) return;
      finished = true;
      span.end();
      release();
      settle(actualTokens).catch((error: unknown) =>
        this.logger.warn(
          { err: error, request_id: ctx.requestId },
          'could not settle token reservation',
        ),
      );
    };
    const progress = { started: false };
    // A generator that is never iterated never runs its `finally`: a client that leaves before
    // the first chunk is pulled must still give its slot back.
    ctx.signal.addEventListener('abort', () => progress.started || finish(0), { once: true });
    const events = this.router.generate(
      params.model,
      {
        input: params.input,
        maxTokens: params.maxTokens,
        temperature: params.temperature,
        topP: params.topP,
        stop: params.stop,
        ...(params.seed === undefined ? {} : { seed: params.seed }),
        signal: ctx.signal,
      },
      {
        span,
        onAttempt: (attempt) => {
          this.observer.upstreamAttempt({
            provider: attempt.provider,
            target: attempt.target,
            model: attempt.model,
            outcome: attempt.outcome,
            fallback: attempt.fallback,
            durationMs: attempt.durationMs,
            ...(attempt.error ? { errorCode: errorCodeOf(attempt.error) } : {}),
          });
          this.logger.info(
            {
              request_id: ctx.requestId,
              model: attempt.model,
              provider: attempt.provider,
              target: attempt.target,
              attempt: attempt.attempt,
              fallback: attempt.fallback,
              outcome: attempt.outcome,
              duration_ms: Math.round(attempt.durationMs),
              ...(span.traceId() === undefined ? {} : { trace_id: span.traceId() }),
              ...(attempt.error ? { error_code: errorCodeOf(attempt.error) } : {}),
            },
            'model attempt',
          );
        },
      },
    );
    const timing = { upstreamMs: 0 };
    return {
      id,
      created,
      model: params.model,
      cache: key === null ? 'bypass' : 'miss',
      timing,
      events: this.metered(ctx, params, events, {
        completionId: id,
        promptTokens,
        finish,
        progress,
        timing,
        cacheKey: key,
        span,
      }),
    };
  }

  /** GenAI semantic-convention attributes; usage and finish reasons are added when it ends. */
  private generationSpan(params: CompletionParams, cache: CacheStatus): SpanScope {
    const operation = OPERATION[params.endpoint];
    return this.tracing.start(`${operation} ${params.model}`, {
      'gen_ai.operation.name': operation,
      'gen_ai.request.model': params.model,
      'gen_ai.request.max_tokens': params.maxTokens,
      'gen_ai.request.temperature': params.temperature,
      'gen_ai.request.top_p': params.topP,
      'inference.stream': params.stream,
      'inference.cache': cache,
    });
  }

  /** A cached answer, replayed as the events a generation would have produced. */
  private async *replay(
    ctx: CompletionContext,
    params: CompletionParams,
    completionId: string,
    hit: CachedCompletion,
    span: SpanScope,
  ): AsyncGenerator<GenerationEvent> {
    try {
      if (hit.text !== '') yield { type: 'text', text: hit.text };
      yield { type: 'done', finishReason: hit.finishReason, usage: hit.usage };
    } finally {
      span.setAttributes(usageAttributes(hit.finishReason, hit.usage));
      span.end();
    }
    this.observer.generationFinished({
      model: params.model,
      organizationId: ctx.principal.organizationId,
      endpoint: params.endpoint,
      stream: params.stream,
      outcome: 'completed',
      cache: 'hit',
      promptTokens: hit.usage.promptTokens,
      completionTokens: hit.usage.completionTokens,
      timeToFirstTokenMs: 0,
      durationMs: 0,
    });
    this.recordUsage(ctx, params, completionId, hit.usage, 'completed', 0);
  }

  async complete(ctx: CompletionContext, params: CompletionParams): Promise<CompletedGeneration> {
    const generation = await this.start(ctx, params);
    let text = '';
    for await (const event of generation.events) {
      if (event.type === 'text') {
        text += event.text;
      } else {
        const { id, created, model, cache, timing } = generation;
        return {
          id,
          created,
          model,
          text,
          finishReason: event.finishReason,
          usage: event.usage,
          cache,
          timing,
        };
      }
    }
    // The metered stream ends without `done` only when the client went away.
    throw new AppError('INTERNAL_ERROR', { message: 'Generation ended early' });
  }

  private async *metered(
    ctx: CompletionContext,
    params: CompletionParams,
    events: AsyncIterable<GenerationEvent>,
    run: {
      completionId: string;
      /** As counted for the reservation: what a generation that never reaches `done` is charged. */
      promptTokens: number;
      finish: (actualTokens: number) => void;
      progress: { started: boolean };
      timing: { upstreamMs: number };
      cacheKey: string | null;
      span: SpanScope;
    },
  ): AsyncGenerator<GenerationEvent> {
    const { finish, progress, timing } = run;
    progress.started = true;
    const startedAt = performance.now();
    let firstTokenMs: number | null = null;
    let usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
    let outcome: UsageOutcome = 'cancelled';
    let finishReason: FinishReason | undefined;
    let text = '';
    const streamed = { pieces: 0, tokens: 0 };
    let sawEvent = false;
    // The provider refused the input itself (a prompt longer than a local model's context):
    // a client error like any validation failure, so it is neither metered nor charged.
    let refused = false;
    const iterator = events[Symbol.asyncIterator]();
    try {
      for (;;) {
        const waitStarted = performance.now();
        const next = await iterator.next();
        timing.upstreamMs += performance.now() - waitStarted;
        if (next.done) break;
        const event = next.value;
        sawEvent = true;
        if (event.type === 'text' && firstTokenMs === null)
          firstTokenMs = performance.now() - startedAt;
        if (event.type === 'text') {
          streamed.pieces += 1;
          streamed.tokens += event.tokens ?? 0;
          if (run.cacheKey !== null) text += event.text;
        } else {
          usage = event.usage;
          finishReason = event.finishReason;
          outcome = 'completed';
          if (run.cacheKey !== null && this.cache) {
            const value = { text, finishReason: event.finishReason, usage };
            await this.cache.store.set(run.cacheKey, value, this.cache.ttlSeconds);
          }
        }
        yield event;
        if (event.type === 'done') return;
      }
    } catch (error) {
      outcome = ctx.signal.aborted ? 'cancelled' : 'failed';
      refused = !sawEvent && isAppError(error) && error.status < 500;
      run.span.fail(error);
      throw isAppError(error) ? error : new AppError('INTERNAL_ERROR', { cause: error });
    } finally {
      // Stops the provider's work when the consumer left early (a no-op once it has finished).
      await iterator.return?.().catch(() => undefined);
      if (outcome !== 'completed' && ctx.signal.aborted) outcome = 'cancelled';
      if (outcome !== 'completed') usage = unfinishedUsage(outcome, run.promptTokens, streamed);
      run.span.setAttributes({
        ...usageAttributes(finishReason, usage),
        'inference.outcome': refused ? 'refused' : outcome,
      });
      if (refused) {
        finish(0);
      } else {
        finish(usage.promptTokens + usage.completionTokens);
        const durationMs = performance.now() - startedAt;
        this.observer.generationFinished({
          model: params.model,
          organizationId: ctx.principal.organizationId,
          endpoint: params.endpoint,
          stream: params.stream,
          outcome,
          cache: run.cacheKey === null ? 'bypass' : 'miss',
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          timeToFirstTokenMs: firstTokenMs,
          durationMs,
        });
        this.recordUsage(ctx, params, run.completionId, usage, outcome, durationMs);
      }
    }
  }

  /**
   * Buffered and written in batches off the request path; it never throws. Keyed on the completion
   * id this service made, never on the caller's request id, so every completion counts once.
   */
  private recordUsage(
    ctx: CompletionContext,
    params: CompletionParams,
    completionId: string,
    usage: TokenUsage,
    outcome: UsageOutcome,
    durationMs: number,
  ): void {
    this.usage.record({
      completionId,
      requestId: ctx.requestId,
      principalId: ctx.principal.id,
      organizationId: ctx.principal.organizationId,
      model: params.model,
      endpoint: params.endpoint,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      outcome,
      durationMs: Math.round(durationMs),
      stream: params.stream,
    });
  }
}

/**
 * What a generation that never reached `done` is metered and charged: its prompt and the completion
 * tokens streamed so far, so that leaving just before the last chunk does not make a whole answer
 * free. The caller asked for a cancelled one, so its prompt counts even before any text; one that
 * failed before any text gave the caller nothing and costs nothing.
 */
function unfinishedUsage(
  outcome: Exclude<UsageOutcome, 'completed'>,
  promptTokens: number,
  streamed: { pieces: number; tokens: number },
): TokenUsage {
  if (outcome === 'failed' && streamed.pieces === 0)
    return { promptTokens: 0, completionTokens: 0 };
  return { promptTokens, completionTokens: streamed.tokens };
}

function usageAttributes(
  finishReason: FinishReason | undefined,
  usage: TokenUsage,
): SpanAttributes {
  return {
    'gen_ai.response.finish_reasons': finishReason === undefined ? undefined : [finishReason],
    'gen_ai.usage.input_tokens': usage.promptTokens,
    'gen_ai.usage.output_tokens': usage.completionTokens,
  };
}
