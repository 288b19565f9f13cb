import { AppError, isAppError } from '../../errors.js';
import type { SpanAttributes, SpanScope, Tracing } from '../../observability.js';
import type {
  GenerationEvent,
  GenerationRequest,
  ModelProvider,
  UpstreamTarget,
} from '../../ports.js';
import type { PlannedAttempt } from '../../routing/attempt-order.js';

/** What the caller supplies; the router fills in the upstream model and its timeout. */
export type RoutedRequest = Omit<GenerationRequest, 'model' | 'timeoutMs'>;

/**
 * - `completed`: this upstream delivered `done`.
 * - `failed_over`: it failed before sending anything; the next one is tried.
 * - `failed`: its error (or early end) went to the caller.
 * - `cancelled`: the client went away, or the caller stopped reading.
 */
export type AttemptOutcome = 'completed' | 'failed_over' | 'failed' | 'cancelled';

export interface AttemptInfo {
  /** Public model id. */
  model: string;
  provider: string;
  /** The upstream model name. */
  target: string;
  /** 1 for the first upstream tried for this request. */
  attempt: number;
  fallback: boolean;
  outcome: AttemptOutcome;
  durationMs: number;
  error?: unknown;
}

export type AttemptListener = (info: AttemptInfo) => void;

/** An upstream that has produced its first event: the rest is read by whoever owns the outcome. */
export interface OpenedAttempt {
  first: GenerationEvent;
  rest: AsyncIterator<GenerationEvent>;
  /** Reports how this attempt ended (span, metrics, logs); only the first call counts. */
  finish(outcome: AttemptOutcome, error?: unknown, attributes?: SpanAttributes): void;
}

export interface RouteStageOptions {
  /** Public model id, for attempt reports. */
  model: string;
  plan: readonly PlannedAttempt[];
  request: RoutedRequest;
  providerFor: (target: UpstreamTarget) => ModelProvider;
  tracing: Tracing;
  listeners: readonly AttemptListener[];
  /** The span attempt spans belong under (a stream has no current span of its own). */
  parent?: SpanScope;
}

/**
 * Tries the planned upstreams in order until one produces a first event. One that fails with
 * UPSTREAM_ERROR or UPSTREAM_TIMEOUT before it (or ends without any) is replaced by the next;
 * any other error, or the last one's, reaches the caller. After the first event nothing is
 * retried, because the client may already hold part of that upstream's answer.
 */
export async function openFirstEvent(options: RouteStageOptions): Promise<OpenedAttempt> {
  const { plan, request } = options;
  for (const [index, planned] of plan.entries()) {
    const attempt = startAttempt(options, planned, index);
    try {
      const events = options.providerFor(planned.target).generate(attempt.request);
      const rest = events[Symbol.asyncIterator]();
      const first = await rest.next();
      if (first.done) throw endedEmpty(request.signal);
      return { first: first.value, rest, finish: attempt.finish };
    } catch (error) {
      if (index < plan.length - 1 && canFallBack(error, request.signal)) {
        attempt.finish('failed_over', error);
        continue;
      }
      attempt.finish(request.signal.aborted ? 'cancelled' : 'failed', error);
      throw error;
    }
  }
  throw new AppError('INTERNAL_ERROR', { message: 'The route has no upstream to try' });
}

function endedEmpty(signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason ?? new AppError('INTERNAL_ERROR');
  // Providers end without `done` only when aborted; an empty answer otherwise is the upstream's.
  return new AppError('UPSTREAM_ERROR', { message: 'The upstream ended without answering' });
}

function startAttempt(options: RouteStageOptions, planned: PlannedAttempt, index: number) {
  const { target, fallback } = planned;
  const startedAt = performance.now();
  const span = options.tracing.start(
    `upstream ${target.provider} ${target.model}`,
    {
      'gen_ai.system': target.provider,
      'gen_ai.request.model': target.model,
      'inference.attempt': index + 1,
      'inference.fallback': fallback,
    },
    { kind: 'client', ...(options.parent ? { parent: options.parent } : {}) },
  );
  const traceparent = span.traceparent();
  const request: GenerationRequest = {
    ...options.request,
    model: target.model,
    timeoutMs: target.timeoutMs,
    ...(traceparent === undefined
      ? {}
      : { forwardHeaders: { ...options.request.forwardHeaders, traceparent } }),
  };
  let finished = false;
  const finish = (outcome: AttemptOutcome, error?: unknown, attributes?: SpanAttributes): void => {
    if (finished) return;
    finished = true;
    const info: AttemptInfo = {
      model: options.model,
      provider: target.provider,
      target: target.model,
      attempt: index + 1,
      fallback,
      outcome,
      durationMs: performance.now() - startedAt,
      ...(error === undefined ? {} : { error }),
    };
    span.setAttributes({ ...attributes, 'inference.outcome': outcome });
    if (error !== undefined) span.fail(error);
    span.end();
    for (const listener of options.listeners) notify(listener, info);
  };
  return { request, finish };
}

function notify(listener: AttemptListener, info: AttemptInfo): void {
  try {
    listener(info);
  } catch {
    // Metrics and logs must never change what the client receives.
  }
}

/** Yields an opened attempt's events and reports its outcome when the stream ends. */
export async function* streamOpened(
  pending: Promise<OpenedAttempt>,
  signal: AbortSignal,
): AsyncGenerator<GenerationEvent> {
  const { first, rest, finish } = await pending;
  let outcome: AttemptOutcome = 'cancelled';
  let failure: unknown;
  try {
    for (let next: IteratorResult<GenerationEvent> = { done: false, value: first }; !next.done;) {
      yield next.value;
      if (next.value.type === 'done') {
        outcome = 'completed';
        return;
      }
      next = await rest.next();
    }
    outcome = signal.aborted ? 'cancelled' : 'failed';
  } catch (error) {
    failure = error;
    outcome = signal.aborted ? 'cancelled' : 'failed';
    throw error;
  } finally {
    await rest.return?.().catch(() => undefined);
    finish(outcome, failure);
  }
}

/** Only an upstream's own failure is worth another upstream; a bad request or a gone client is not. */
export function canFallBack(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted || !isAppError(error)) return false;
  return error.code === 'UPSTREAM_ERROR' || error.code === 'UPSTREAM_TIMEOUT';
}
