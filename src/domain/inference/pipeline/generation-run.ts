import type { CacheStatus } from '../../cache/response-cache.js';
import type { InferenceObserver, SpanAttributes, SpanScope } from '../../observability.js';
import type { FinishReason, GenerationEvent, TokenUsage, UsageOutcome } from '../../ports.js';
import type { UsageSink } from '../../usage/usage-recorder.js';
import type { AttemptOutcome, OpenedAttempt } from './route-stage.js';
import type { Lease } from './lease.js';
import type { CompletionContext, CompletionParams } from './types.js';

/**
 * How a generation ended. `refused`: the provider rejected the input itself before any event (a
 * prompt longer than a local model's context) — a client error like any validation failure,
 * neither metered nor charged.
 */
export type RunEnd =
  | { outcome: 'completed'; finishReason: FinishReason; usage: TokenUsage }
  | { outcome: Exclude<UsageOutcome, 'completed'> | 'refused'; error?: unknown };

export interface RunSetup {
  ctx: CompletionContext;
  params: CompletionParams;
  completionId: string;
  cache: CacheStatus;
  /** See Admitted.promptTokens. */
  promptTokens: number;
  span: SpanScope;
  /** Absent for an answer from the cache, which holds nothing. */
  lease?: Lease;
  usage: UsageSink;
  observer: InferenceObserver;
}

/**
 * The one owner of a generation's outcome. Whatever ends it — `done`, an error, the consumer
 * stopping, the client leaving before the first event was even pulled — `end` runs exactly once
 * and does everything an end implies: the spans, the attempt report, the lease, the metrics and
 * the usage record.
 */
export class GenerationRun {
  readonly timing = { upstreamMs: 0 };
  private readonly startedAt = performance.now();
  private firstTokenMs: number | null = null;
  private readonly streamed = { pieces: 0, tokens: 0 };
  private attempt: OpenedAttempt | undefined;
  private pulled = false;
  private ended = false;
  private readonly onAbort = (): void => {
    // A generator that is never iterated never runs its `finally`, so this end is ours to make.
    if (this.pulled) return;
    void this.attempt?.rest.return?.().catch(() => undefined);
    this.end({ outcome: 'cancelled' });
  };

  constructor(private readonly setup: RunSetup) {
    setup.ctx.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The generation's span, parent of the attempt spans. */
  get span(): SpanScope {
    return this.setup.span;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The upstream attempt whose events this run relays; its report is made by `end`. */
  attach(attempt: OpenedAttempt): void {
    this.attempt = attempt;
  }

  /** The consumer has started reading: its `finally` ends the run from now on. */
  markPulled(): void {
    this.pulled = true;
  }

  /** Waits on the model, counting the wait as upstream time. */
  async timed<T>(wait: () => Promise<T>): Promise<T> {
    const startedAt = performance.now();
    try {
      return await wait();
    } finally {
      this.timing.upstreamMs += performance.now() - startedAt;
    }
  }

  observe(event: GenerationEvent): void {
    if (event.type === 'done') return;
    this.firstTokenMs ??= performance.now() - this.startedAt;
    this.streamed.pieces += 1;
    this.streamed.tokens += event.tokens ?? 0;
  }

  end(result: RunEnd): void {
    if (this.ended) return;
    this.ended = true;
    const { ctx, span } = this.setup;
    ctx.signal.removeEventListener('abort', this.onAbort);
    const error = result.outcome === 'completed' ? undefined : result.error;
    const outcome =
      result.outcome !== 'completed' && ctx.signal.aborted ? 'cancelled' : result.outcome;
    const finishReason = result.outcome === 'completed' ? result.finishReason : undefined;
    const usage =
      result.outcome === 'completed'
        ? result.usage
        : unfinishedUsage(
            outcome as Exclude<UsageOutcome, 'completed'> | 'refused',
            this.setup.promptTokens,
            this.streamed,
          );
    const attributes = usageAttributes(finishReason, usage);
    span.setAttributes({ ...attributes, 'inference.outcome': outcome });
    if (error !== undefined) span.fail(error);
    span.end();
    this.attempt?.finish(ATTEMPT_OUTCOME[outcome], error, attributes);
    this.setup.lease?.end(outcome === 'refused' ? 0 : usage.promptTokens + usage.completionTokens);
    if (outcome !== 'refused') this.meter(outcome, usage);
  }

  /**
   * Buffered and written in batches off the request path; it never throws. Keyed on the
   * completion id made at admission, never on the caller's request id, so each counts once.
   */
  private meter(outcome: UsageOutcome, usage: TokenUsage): void {
    const { ctx, params, cache } = this.setup;
    const durationMs = cache === 'hit' ? 0 : performance.now() - this.startedAt;
    this.setup.observer.generationFinished({
      model: params.model,
      organizationId: ctx.principal.organizationId,
      endpoint: params.endpoint,
      stream: params.stream,
      outcome,
      cache,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      timeToFirstTokenMs: cache === 'hit' ? 0 : this.firstTokenMs,
      durationMs,
    });
    this.setup.usage.record({
      completionId: this.setup.completionId,
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

const ATTEMPT_OUTCOME: Record<UsageOutcome | 'refused', AttemptOutcome> = {
  completed: 'completed',
  cancelled: 'cancelled',
  failed: 'failed',
  refused: 'failed',
};

/**
 * What a generation that never reached `done` is metered and charged: its prompt and the
 * completion tokens streamed so far, so that leaving just before the last chunk does not make a
 * whole answer free. The caller asked for a cancelled one, so its prompt counts even before any
 * output; one that failed before any output gave the caller nothing and costs nothing.
 */
function unfinishedUsage(
  outcome: Exclude<UsageOutcome, 'completed'> | 'refused',
  promptTokens: number,
  streamed: { pieces: number; tokens: number },
): TokenUsage {
  if (outcome === 'refused' || (outcome === 'failed' && streamed.pieces === 0)) {
    return { promptTokens: 0, completionTokens: 0 };
  }
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
