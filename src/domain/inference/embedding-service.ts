import { randomBytes } from 'node:crypto';
import { requireScope } from '../authorization.js';
import { AppError, isAppError, validationError } from '../errors.js';
import type { GenerationGate } from '../load/generation-gate.js';
import type { Logger } from '../logger.js';
import { silentObserver, type InferenceObserver } from '../observability.js';
import type { GenerationCapacity, UsageOutcome } from '../ports.js';
import type { Principal } from '../principal.js';
import type { RateLimitService } from '../rate-limit/rate-limit-service.js';
import type { PlannedAttempt } from '../routing/attempt-order.js';
import { canFallBack, type ModelRouter } from '../routing/model-router.js';
import { routeCapabilities } from './capabilities.js';
import type { UsageSink } from '../usage/usage-recorder.js';
import type {
  EmbeddingEncoding,
  EmbeddingInput,
  EmbeddingProvider,
  EmbeddingResponse,
} from './embeddings.js';

export interface EmbeddingContext {
  principal: Principal;
  requestId: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export interface EmbeddingParams {
  /** Public model id. */
  model: string;
  input: EmbeddingInput;
  encodingFormat: EmbeddingEncoding;
  dimensions?: number;
  /** The validated request body, forwarded (model rewritten) to upstreams of the same dialect. */
  body: Readonly<Record<string, unknown>>;
}

export interface EmbeddingResult {
  /** In OpenAI's shape, `model` the public id. */
  response: EmbeddingResponse;
  /** Time spent waiting on the model (Server-Timing). */
  timing: { upstreamMs: number };
}

export interface EmbeddingServiceDeps {
  router: ModelRouter;
  usage: UsageSink;
  limits: RateLimitService;
  /** The same gates as completions: an embedding holds a model context or a socket alike. */
  gates: Record<GenerationCapacity, GenerationGate>;
  logger: Logger;
  observer?: InferenceObserver;
}

interface Attempt extends PlannedAttempt {
  embeddings: EmbeddingProvider;
}

/**
 * POST /v1/embeddings: admission (scope, the route's capabilities, what its providers can honour,
 * the token reservation, the capacity gate), then one provider after another until one answers,
 * then metering exactly once however it ended.
 */
export class EmbeddingService {
  private readonly observer: InferenceObserver;

  constructor(private readonly deps: EmbeddingServiceDeps) {
    this.observer = deps.observer ?? silentObserver;
  }

  async create(ctx: EmbeddingContext, params: EmbeddingParams): Promise<EmbeddingResult> {
    requireScope(ctx.principal, 'completions:write');
    const attempts = this.admit(params);
    const first = attempts[0] as Attempt;
    const promptTokens = first.embeddings.countTokens(params.input, first.target.model);
    const id = `embd-${randomBytes(12).toString('base64url')}`;
    const settle = await this.deps.limits.reserveTokens(ctx.principal, promptTokens, id);
    let release: () => void;
    try {
      release = await this.deps.gates[this.deps.router.capacityOf(params.model)].acquire(
        ctx.signal,
      );
    } catch (error) {
      await settle(0);
      throw error;
    }
    const startedAt = performance.now();
    let charged = 0;
    try {
      const response = await this.run(ctx, params, attempts);
      const reported = response.usage.prompt_tokens;
      const tokens = Number.isInteger(reported) && reported >= 0 ? reported : promptTokens;
      charged = tokens;
      this.meter(ctx, params, id, 'completed', tokens, startedAt);
      const usage = { ...response.usage, prompt_tokens: tokens, total_tokens: tokens };
      return {
        response: { ...response, model: params.model, usage },
        timing: { upstreamMs: performance.now() - startedAt },
      };
    } catch (error) {
      // A provider refusing the input itself (too long for the model) is a client error like any
      // validation failure: neither metered nor charged.
      if (isAppError(error) && error.status < 500 && !ctx.signal.aborted) throw error;
      const outcome: UsageOutcome = ctx.signal.aborted ? 'cancelled' : 'failed';
      // As with completions: the caller who left asked for the work, a failure gave them nothing.
      charged = outcome === 'cancelled' ? promptTokens : 0;
      this.meter(ctx, params, id, outcome, charged, startedAt);
      throw isAppError(error) ? error : new AppError('INTERNAL_ERROR', { cause: error });
    } finally {
      release();
      settle(charged).catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, request_id: ctx.requestId },
          'could not settle token reservation',
        ),
      );
    }
  }

  /** Everything that can be refused without sending anything, with the public id in the message. */
  private admit(params: EmbeddingParams): Attempt[] {
    const { router } = this.deps;
    const route = router.resolveFor(params.model, 'embeddings');
    const attempts = router.planFor(route).flatMap((planned): Attempt[] => {
      const embeddings = router.providerFor(planned.target).embeddings;
      return embeddings ? [{ ...planned, embeddings }] : [];
    });
    if (attempts.length === 0) {
      const providers = [...new Set(router.planFor(route).map((a) => a.target.provider))];
      throw validationError(
        'model',
        `Model "${params.model}" is served by ${providers.join(', ')}, which cannot embed`,
      );
    }
    if (params.dimensions !== undefined && attempts.some((a) => !a.embeddings.dimensions)) {
      throw validationError(
        'dimensions',
        `Model "${params.model}" cannot shorten its embeddings; leave dimensions out`,
      );
    }
    const window = routeCapabilities(route).contextWindow;
    if (window !== undefined) refuseOverWindow(params, attempts[0] as Attempt, window);
    return attempts;
  }

  private async run(
    ctx: EmbeddingContext,
    params: EmbeddingParams,
    attempts: Attempt[],
  ): Promise<EmbeddingResponse> {
    for (const [index, attempt] of attempts.entries()) {
      const { target } = attempt;
      const startedAt = performance.now();
      let outcome: 'completed' | 'failed_over' | 'failed' | 'cancelled' = 'failed';
      let failure: unknown;
      try {
        const response = await attempt.embeddings.embed({
          model: target.model,
          timeoutMs: target.timeoutMs,
          input: params.input,
          encodingFormat: params.encodingFormat,
          ...(params.dimensions === undefined ? {} : { dimensions: params.dimensions }),
          body: { ...params.body, model: target.model },
          signal: ctx.signal,
        });
        outcome = 'completed';
        return response;
      } catch (error) {
        failure = error;
        if (index < attempts.length - 1 && canFallBack(error, ctx.signal)) {
          outcome = 'failed_over';
          continue;
        }
        outcome = ctx.signal.aborted ? 'cancelled' : 'failed';
        throw error;
      } finally {
        this.attempted(ctx, params, attempt, index, outcome, startedAt, failure);
      }
    }
    // admit() never returns an empty plan.
    throw new AppError('INTERNAL_ERROR', { message: 'No provider to embed with' });
  }

  private attempted(
    ctx: EmbeddingContext,
    params: EmbeddingParams,
    { target, fallback }: Attempt,
    index: number,
    outcome: 'completed' | 'failed_over' | 'failed' | 'cancelled',
    startedAt: number,
    failure: unknown,
  ): void {
    const durationMs = performance.now() - startedAt;
    const errorCode =
      failure === undefined ? undefined : isAppError(failure) ? failure.code : 'INTERNAL_ERROR';
    this.observer.upstreamAttempt({
      provider: target.provider,
      target: target.model,
      model: params.model,
      outcome,
      fallback,
      durationMs,
      ...(errorCode === undefined ? {} : { errorCode }),
    });
    this.deps.logger.info(
      {
        request_id: ctx.requestId,
        model: params.model,
        provider: target.provider,
        target: target.model,
        attempt: index + 1,
        fallback,
        outcome,
        duration_ms: Math.round(durationMs),
        ...(errorCode === undefined ? {} : { error_code: errorCode }),
      },
      'model attempt',
    );
  }

  /** Buffered and written off the request path, keyed on an id made here so it counts once. */
  private meter(
    ctx: EmbeddingContext,
    params: EmbeddingParams,
    id: string,
    outcome: UsageOutcome,
    promptTokens: number,
    startedAt: number,
  ): void {
    const durationMs = performance.now() - startedAt;
    this.observer.generationFinished({
      model: params.model,
      organizationId: ctx.principal.organizationId,
      endpoint: 'embeddings',
      stream: false,
      outcome,
      cache: 'bypass',
      promptTokens,
      completionTokens: 0,
      timeToFirstTokenMs: null,
      durationMs,
    });
    this.deps.usage.record({
      completionId: id,
      requestId: ctx.requestId,
      principalId: ctx.principal.id,
      organizationId: ctx.principal.organizationId,
      model: params.model,
      endpoint: 'embeddings',
      promptTokens,
      completionTokens: 0,
      outcome,
      durationMs: Math.round(durationMs),
      stream: false,
    });
  }
}

/** Each input is embedded on its own, so each one must fit the route's declared window. */
function refuseOverWindow(params: EmbeddingParams, first: Attempt, window: number): void {
  const inputs: EmbeddingInput[] =
    params.input.kind === 'text'
      ? params.input.texts.map((text) => ({ kind: 'text', texts: [text] }))
      : params.input.tokens.map((ids) => ({ kind: 'tokens', tokens: [ids] }));
  for (const [index, input] of inputs.entries()) {
    const tokens = first.embeddings.countTokens(input, first.target.model);
    if (tokens > window) {
      throw validationError(
        'input',
        `Input ${index} is about ${tokens} tokens long, more than the ${window}-token context window of model ${params.model}`,
      );
    }
  }
}
