/**
 * What the domain reports about its work, for metrics. Implemented with prom-client outside the
 * domain; `silentObserver` where nothing listens. Label values passed here are bounded: model ids
 * come from the routing table, organization ids from the database, never from raw input.
 */
export interface InferenceObserver {
  generationFinished(event: {
    model: string;
    organizationId: string | null;
    endpoint: 'completions' | 'chat.completions' | 'embeddings';
    stream: boolean;
    outcome: 'completed' | 'cancelled' | 'failed';
    cache: 'hit' | 'miss' | 'bypass';
    promptTokens: number;
    completionTokens: number;
    /** Time to the first text, when there was one. */
    timeToFirstTokenMs: number | null;
    durationMs: number;
  }): void;
  upstreamAttempt(event: {
    provider: string;
    target: string;
    model: string;
    outcome: 'completed' | 'failed_over' | 'failed' | 'cancelled';
    fallback: boolean;
    retryOf?: number;
    durationMs: number;
    errorCode?: string;
  }): void;
  rateLimited(limit: 'requests' | 'tokens' | 'address' | 'sign_in'): void;
  shed(reason: 'capacity' | 'queue_timeout' | 'event_loop_lag' | 'memory'): void;
}

export const silentObserver: InferenceObserver = {
  generationFinished: () => undefined,
  upstreamAttempt: () => undefined,
  rateLimited: () => undefined,
  shed: () => undefined,
};

export type SpanAttributeValue = string | number | boolean | readonly string[];
/** Undefined values are left out, so optional request fields can be passed as they are. */
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue | undefined>>;

/** One span of a trace, as the domain sees it. */
export interface SpanScope {
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed; only the error code is kept, never a message that could quote input. */
  fail(error: unknown): void;
  /** The W3C traceparent naming this span as parent, for a request we send. */
  traceparent(): string | undefined;
  /** The trace id, for log lines. */
  traceId(): string | undefined;
  /** Idempotent. */
  end(): void;
}

export interface SpanOptions {
  /** Defaults to the span current where this is called. */
  parent?: SpanScope;
  /** 'client' for a call to another service. */
  kind?: 'internal' | 'client';
}

/**
 * Traces (OpenTelemetry outside the domain; `silentTracing` when tracing is off, so no span is
 * created). Streamed work cannot rely on an implicit current span, because a stream is pulled by
 * whoever reads it: such spans are started with `start` and an explicit parent.
 */
export interface Tracing {
  /** A child of the current span around `fn`, current while `fn` runs; ended when it settles. */
  span<T>(
    name: string,
    attributes: SpanAttributes,
    fn: (span: SpanScope) => Promise<T>,
  ): Promise<T>;
  /** A span the caller ends. */
  start(name: string, attributes: SpanAttributes, options?: SpanOptions): SpanScope;
  /** The current span's traceparent, if any. */
  traceparent(): string | undefined;
}

export const silentSpan: SpanScope = {
  setAttributes: () => undefined,
  fail: () => undefined,
  traceparent: () => undefined,
  traceId: () => undefined,
  end: () => undefined,
};

export const silentTracing: Tracing = {
  span: (_name, _attributes, fn) => fn(silentSpan),
  start: () => silentSpan,
  traceparent: () => undefined,
};
