import { AppError, isAppError } from '../errors.js';
import type { GenerationGate } from '../load/generation-gate.js';
import type { Logger } from '../logger.js';
import {
  silentObserver,
  silentTracing,
  type InferenceObserver,
  type SpanScope,
  type Tracing,
} from '../observability.js';
import type { GenerationCapacity } from '../ports.js';
import type { CacheStatus } from '../cache/response-cache.js';
import type { RateLimitService } from '../rate-limit/rate-limit-service.js';
import type { ModelRouter, RoutedRequest } from '../routing/model-router.js';
import { reportAttempt } from '../inference/pipeline/attempt-report.js';
import type { UsageSink } from '../usage/usage-recorder.js';
import { admit, type Admitted } from '../inference/pipeline/admit.js';
import { assembleAnswer } from '../inference/pipeline/assemble.js';
import { CacheWriter, cacheKeyFor, lookUp, replayOf } from '../inference/pipeline/cache-stage.js';
import { generationEvents, type EventSource } from '../inference/pipeline/generate-stage.js';
import { GenerationRun } from '../inference/pipeline/generation-run.js';
import { takeLease, type Lease } from '../inference/pipeline/lease.js';
import type {
  CompletedGeneration,
  CompletionCacheSettings,
  CompletionContext,
  CompletionParams,
  Generation,
} from '../inference/pipeline/types.js';

export type {
  AssembledToolCall,
  CompletedGeneration,
  CompletionCacheSettings,
  CompletionContext,
  CompletionParams,
  Generation,
} from '../inference/pipeline/types.js';

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

const OPERATION: Record<CompletionParams['endpoint'], string> = {
  completions: 'text_completion',
  'chat.completions': 'chat',
};

/**
 * Completions as one pipeline: admit → cache → lease → route → generate, with one owner of the
 * outcome (GenerationRun) that meters it exactly once however it ends.
 */
export class CompletionService {
  private readonly observer: InferenceObserver;
  private readonly tracing: Tracing;

  constructor(private readonly deps: CompletionServiceDeps) {
    this.observer = deps.observer ?? silentObserver;
    this.tracing = deps.tracing ?? silentTracing;
  }

  /**
   * Resolves once the answer has begun: every refusal (scope, model, fields, limits, load) and
   * every upstream failure before the first event (after fallbacks) is a rejection, never a
   * half-started stream.
   */
  async start(ctx: CompletionContext, params: CompletionParams): Promise<Generation> {
    const admitted = admit(this.deps.router, ctx, params);
    const key = cacheKeyFor(this.deps.cache, ctx, params);
    const hit =
      key === null || !this.deps.cache ? null : await lookUp(this.deps.cache, key, this.tracing);
    const cache: CacheStatus = hit ? 'hit' : key === null ? 'bypass' : 'miss';
    const generation = (run: GenerationRun, source: EventSource, writer?: CacheWriter) => {
      run.observe(source.first);
      return {
        id: admitted.id,
        created: admitted.created,
        model: params.model,
        cache,
        timing: run.timing,
        events: generationEvents(run, source, ctx.signal, writer),
      } satisfies Generation;
    };
    if (hit) {
      const run = this.runFor(ctx, params, admitted, cache);
      return generation(run, replayOf(hit));
    }
    const lease = await takeLease({ ...this.deps, tracing: this.tracing }, ctx, {
      id: admitted.id,
      tokens: admitted.promptTokens + params.maxTokens,
      capacity: this.deps.router.capacityOf(params.model),
    });
    const run = this.runFor(ctx, params, admitted, cache, lease);
    const opened = await run
      .timed(() =>
        this.deps.router.open(admitted.route, routedRequest(params, ctx.signal), {
          span: run.span,
          onAttempt: (attempt) =>
            reportAttempt(
              this.observer,
              this.deps.logger,
              { requestId: ctx.requestId, span: run.span },
              attempt,
            ),
        }),
      )
      .catch((error: unknown) => {
        const refused = isAppError(error) && error.status < 500;
        run.end({ outcome: refused ? 'refused' : 'failed', error });
        throw isAppError(error) ? error : new AppError('INTERNAL_ERROR', { cause: error });
      });
    run.attach(opened);
    if (run.isEnded) {
      // The client left while the first event was on its way: nobody will read the rest.
      await opened.rest.return?.().catch(() => undefined);
      opened.finish('cancelled');
      throw new AppError('INTERNAL_ERROR', { message: 'The client went away' });
    }
    const writer =
      key === null || !this.deps.cache
        ? undefined
        : new CacheWriter(this.deps.cache, key, this.deps.logger);
    return generation(run, opened, writer);
  }

  /** The whole answer, for a client that did not stream. */
  async complete(ctx: CompletionContext, params: CompletionParams): Promise<CompletedGeneration> {
    const generation = await this.start(ctx, params);
    const answer = await assembleAnswer(generation.events);
    const { id, created, model, cache, timing } = generation;
    return { id, created, model, ...answer, cache, timing };
  }

  private runFor(
    ctx: CompletionContext,
    params: CompletionParams,
    admitted: Admitted,
    cache: CacheStatus,
    lease?: Lease,
  ): GenerationRun {
    return new GenerationRun({
      ctx,
      params,
      completionId: admitted.id,
      cache,
      promptTokens: admitted.promptTokens,
      span: this.generationSpan(params, cache),
      ...(lease ? { lease } : {}),
      usage: this.deps.usage,
      observer: this.observer,
    });
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
}

function routedRequest(params: CompletionParams, signal: AbortSignal): RoutedRequest {
  return {
    input: params.input,
    maxTokens: params.maxTokens,
    temperature: params.temperature,
    topP: params.topP,
    stop: params.stop,
    ...(params.seed === undefined ? {} : { seed: params.seed }),
    ...(params.chat === undefined ? {} : { chat: params.chat }),
    signal,
  };
}
