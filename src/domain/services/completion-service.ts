import { randomBytes } from 'node:crypto';
import { requireScope } from '../authorization.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type {
  FinishReason,
  GenerationEvent,
  GenerationInput,
  NewUsageRecord,
  TokenUsage,
  UsageOutcome,
  UsageRepository,
} from '../ports.js';
import type { Principal } from '../principal.js';
import type { GenerationGate } from '../load/generation-gate.js';
import type { RateLimitService } from '../rate-limit/rate-limit-service.js';
import type { ModelService } from './model-service.js';

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
}

export interface Generation {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  /** Text pieces, then one `done`; iterate once. Usage is recorded when it ends, however it ends. */
  events: AsyncIterable<GenerationEvent>;
}

export interface CompletedGeneration {
  id: string;
  created: number;
  model: string;
  text: string;
  finishReason: FinishReason;
  usage: TokenUsage;
}

const ID_PREFIX: Record<CompletionParams['endpoint'], string> = {
  completions: 'cmpl-',
  'chat.completions': 'chatcmpl-',
};

export class CompletionService {
  constructor(
    private readonly models: ModelService,
    private readonly usage: UsageRepository,
    private readonly limits: RateLimitService,
    private readonly gate: GenerationGate,
    private readonly logger: Logger,
  ) {}

  /**
   * Checks permission, the model, the token limit and the load before anything is generated, so
   * that every refusal is an ordinary HTTP error and never a half-started stream.
   */
  async start(ctx: CompletionContext, params: CompletionParams): Promise<Generation> {
    requireScope(ctx.principal, 'completions:write');
    const provider = this.models.providerFor(params.model);
    const id = ID_PREFIX[params.endpoint] + randomBytes(12).toString('base64url');
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = provider.countPromptTokens(params.input);
    const settle = await this.limits.reserveTokens(
      ctx.principal,
      promptTokens + params.maxTokens,
      id,
    );
    let release: () => void;
    try {
      release = await this.gate.acquire(ctx.signal);
    } catch (error) {
      await settle(0);
      throw error;
    }
    let finished = false;
    /** `null` keeps the whole reservation: a cancelled stream's real usage is not known. */
    const finish = (actualTokens: number | null): void => {
      if (finished) return;
      finished = true;
      release();
      if (actualTokens === null) return;
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
    const events = provider.generate({
      model: params.model,
      input: params.input,
      maxTokens: params.maxTokens,
      temperature: params.temperature,
      topP: params.topP,
      stop: params.stop,
      ...(params.seed === undefined ? {} : { seed: params.seed }),
      signal: ctx.signal,
    });
    return {
      id,
      created,
      model: params.model,
      events: this.metered(ctx, params, events, finish, progress),
    };
  }

  async complete(ctx: CompletionContext, params: CompletionParams): Promise<CompletedGeneration> {
    const generation = await this.start(ctx, params);
    let text = '';
    for await (const event of generation.events) {
      if (event.type === 'text') {
        text += event.text;
      } else {
        const { id, created, model } = generation;
        return { id, created, model, text, finishReason: event.finishReason, usage: event.usage };
      }
    }
    // The metered stream ends without `done` only when the client went away.
    throw new AppError('INTERNAL_ERROR', { message: 'Generation ended early' });
  }

  private async *metered(
    ctx: CompletionContext,
    params: CompletionParams,
    events: AsyncIterable<GenerationEvent>,
    finish: (actualTokens: number | null) => void,
    progress: { started: boolean },
  ): AsyncGenerator<GenerationEvent> {
    progress.started = true;
    const startedAt = performance.now();
    let usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
    let outcome: UsageOutcome = 'cancelled';
    try {
      for await (const event of events) {
        if (event.type === 'done') {
          usage = event.usage;
          outcome = 'completed';
        }
        yield event;
        if (event.type === 'done') return;
      }
    } catch (error) {
      outcome = ctx.signal.aborted ? 'cancelled' : 'failed';
      throw isAppError(error) ? error : new AppError('INTERNAL_ERROR', { cause: error });
    } finally {
      if (outcome !== 'completed' && ctx.signal.aborted) outcome = 'cancelled';
      finish(outcome === 'completed' ? usage.promptTokens + usage.completionTokens : null);
      await this.recordUsage(ctx, params, usage, outcome, performance.now() - startedAt);
    }
  }

  private async recordUsage(
    ctx: CompletionContext,
    params: CompletionParams,
    usage: TokenUsage,
    outcome: UsageOutcome,
    durationMs: number,
  ): Promise<void> {
    try {
      await this.usage.record({
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
    } catch (error) {
      // The answer has been produced; losing its meter row must not turn it into an error.
      this.logger.error({ err: error, request_id: ctx.requestId }, 'failed to record usage');
    }
  }
}
