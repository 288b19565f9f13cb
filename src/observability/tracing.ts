import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import { isAppError } from '../domain/errors.js';
import type {
  SpanAttributes,
  SpanOptions,
  SpanScope,
  Tracing as TracingPort,
} from '../domain/observability.js';

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans go to `<endpoint>/v1/traces`, in batches. */
  otlpEndpoint?: string;
  /** Tests: every span is handed to this exporter as soon as it ends. */
  exporter?: SpanExporter;
  /** OTEL_TRACES_SAMPLER and its ratio; default: every trace unless the caller's is unsampled. */
  sampler?: { kind: string; ratio: number };
}

function buildSampler(setting: { kind: string; ratio: number } | undefined): Sampler {
  const kind = setting?.kind ?? 'parentbased_always_on';
  const root = kind.endsWith('always_off')
    ? new AlwaysOffSampler()
    : kind.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(setting?.ratio ?? 1)
      : new AlwaysOnSampler();
  return kind.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** The server span of a request, shaped for the HTTP plugin (which declares the interface). */
export interface RequestSpanHandle {
  readonly traceId: string;
  run<T>(fn: () => T): T;
  child<T>(name: string, fn: () => Promise<T>): Promise<T>;
  end(result: { statusCode: number }): void;
}

export interface Tracing {
  /** The domain's port. */
  tracing: TracingPort;
  /** Implements the HTTP plugin's HttpTracer. */
  http: {
    startRequest(request: {
      method: string;
      route: string | undefined;
      requestId: string;
      traceparent: string | undefined;
      tracestate: string | undefined;
    }): RequestSpanHandle;
  };
  /** Exports what is still buffered. */
  close(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

function definedAttributes(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'object' ? [...value] : value;
  }
  return out;
}

/** Only the error code: messages can quote user input. */
function errorType(error: unknown): string {
  return isAppError(error) ? error.code : 'INTERNAL_ERROR';
}

class OtelSpan implements SpanScope {
  private ended = false;

  constructor(
    readonly span: Span,
    readonly context: Context,
  ) {}

  setAttributes(attributes: SpanAttributes): void {
    this.span.setAttributes(definedAttributes(attributes));
  }

  fail(error: unknown): void {
    const type = errorType(error);
    this.span.setAttribute('error.type', type);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }

  traceparent(): string | undefined {
    const carrier: Record<string, string> = {};
    propagator.inject(this.context, carrier, defaultTextMapSetter);
    return carrier['traceparent'];
  }

  traceId(): string {
    return this.span.spanContext().traceId;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }
}

/**
 * OpenTelemetry tracing, or undefined when there is nowhere to send spans: then the silent port
 * is used and no span is ever created. Nothing is registered globally, so that several apps (in
 * tests) can each have their own provider; the current span lives in our own AsyncLocalStorage.
 */
export function createTracing(options: TracingOptions): Tracing | undefined {
  const processors: SpanProcessor[] = [];
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  if (processors.length === 0) return undefined;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'inference-api' }),
    spanProcessors: processors,
    sampler: buildSampler(options.sampler),
  });
  const tracer = provider.getTracer('inference-api');
  const current = new AsyncLocalStorage<Context>();
  const active = (): Context => current.getStore() ?? ROOT_CONTEXT;
  const start = (name: string, attributes: Attributes, parent: Context, kind: SpanKind) => {
    const span = tracer.startSpan(name, { kind, attributes }, parent);
    return new OtelSpan(span, trace.setSpan(parent, span));
  };

  const port: TracingPort = {
    async span(name, attributes, fn) {
      const scope = start(name, definedAttributes(attributes), active(), SpanKind.INTERNAL);
      try {
        return await current.run(scope.context, () => fn(scope));
      } catch (error) {
        scope.fail(error);
        throw error;
      } finally {
        scope.end();
      }
    },
    start(name, attributes, spanOptions: SpanOptions = {}) {
      const parent = spanOptions.parent instanceof OtelSpan ? spanOptions.parent.context : active();
      const kind = spanOptions.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL;
      return start(name, definedAttributes(attributes), parent, kind);
    },
    traceparent() {
      const carrier: Record<string, string> = {};
      propagator.inject(active(), carrier, defaultTextMapSetter);
      return carrier['traceparent'];
    },
  };

  return {
    tracing: port,
    http: {
      startRequest(request) {
        const carrier: Record<string, string> = {};
        if (request.traceparent !== undefined) carrier['traceparent'] = request.traceparent;
        if (request.tracestate !== undefined) carrier['tracestate'] = request.tracestate;
        // An invalid traceparent is ignored by the propagator: the request starts a new trace.
        const parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
        const name =
          request.route === undefined ? request.method : `${request.method} ${request.route}`;
        const scope = start(
          name,
          {
            [ATTR_HTTP_REQUEST_METHOD]: request.method,
            ...(request.route === undefined ? {} : { [ATTR_HTTP_ROUTE]: request.route }),
            'request.id': request.requestId,
          },
          parent,
          SpanKind.SERVER,
        );
        return {
          traceId: scope.traceId(),
          run: (fn) => current.run(scope.context, fn),
          child: (childName, fn) =>
            current.run(scope.context, () => port.span(childName, {}, () => fn())),
          end: ({ statusCode }) => {
            scope.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
            if (statusCode >= 500) scope.span.setStatus({ code: SpanStatusCode.ERROR });
            scope.end();
          },
        };
      },
    },
    close: () => provider.shutdown(),
  };
}
