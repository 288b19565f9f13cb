import { isAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { InferenceObserver, SpanScope } from '../../observability.js';
import type { AttemptInfo } from './route-stage.js';

/** One upstream attempt as metrics and the log see it: a counter sample and a 'model attempt' line. */
export function reportAttempt(
  observer: InferenceObserver,
  logger: Logger,
  context: { requestId: string; span: SpanScope },
  attempt: AttemptInfo,
): void {
  const errorCode =
    attempt.error === undefined
      ? undefined
      : isAppError(attempt.error)
        ? attempt.error.code
        : 'INTERNAL_ERROR';
  observer.upstreamAttempt({
    provider: attempt.provider,
    target: attempt.target,
    model: attempt.model,
    outcome: attempt.outcome,
    fallback: attempt.fallback,
    durationMs: attempt.durationMs,
    ...(errorCode === undefined ? {} : { errorCode }),
  });
  const traceId = context.span.traceId();
  logger.info(
    {
      request_id: context.requestId,
      model: attempt.model,
      provider: attempt.provider,
      target: attempt.target,
      attempt: attempt.attempt,
      fallback: attempt.fallback,
      outcome: attempt.outcome,
      duration_ms: Math.round(attempt.durationMs),
      ...(traceId === undefined ? {} : { trace_id: traceId }),
      ...(errorCode === undefined ? {} : { error_code: errorCode }),
    },
    'model attempt',
  );
}
