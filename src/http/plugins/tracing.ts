import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteHandlerMethod,
} from 'fastify';
import { CLIENT_CLOSED_REQUEST } from './http-metrics.js';

/** The server span of one request. */
export interface RequestSpan {
  readonly traceId: string;
  /** Runs `fn` with this span current, so that spans the domain starts in it are its children. */
  run<T>(fn: () => T): T;
  /** A child span around `fn`, ended (and marked failed if it throws) when `fn` settles. */
  child<T>(name: string, fn: () => Promise<T>): Promise<T>;
  end(result: { statusCode: number }): void;
}

/** What the plugin reports to; the tracing adapter implements it and app.ts passes it in. */
export interface HttpTracer {
  startRequest(request: {
    method: string;
    /** The route template, or undefined for an unmatched path; never the raw URL. */
    route: string | undefined;
    requestId: string;
    /** The caller's W3C trace context, continued when valid. */
    traceparent: string | undefined;
    tracestate: string | undefined;
  }): RequestSpan;
}

declare module 'fastify' {
  interface FastifyRequest {
    traceSpan?: RequestSpan;
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** pino's, which Fastify's logger type leaves out. */
type BindableLogger = FastifyBaseLogger & {
  setBindings?: (bindings: Record<string, string>) => void;
};

/**
 * Puts the trace id on every later log line of the request. Fastify gives each request a child
 * logger of its own, so the id is added to it in place: a child of that fresh child would cost
 * ~20 µs per request (V8 turns the first child into a prototype), more than the spans themselves.
 */
function bindTraceId(request: FastifyRequest, reply: FastifyReply, traceId: string): void {
  const log: BindableLogger = request.log;
  if (typeof log.setBindings === 'function') {
    log.setBindings({ trace_id: traceId });
    return;
  }
  request.log = log.child({ trace_id: traceId });
  reply.log = request.log;
}

/**
 * A server span per request, and its trace id on every log line of the request. Register it before
 * the routes (it wraps their handlers) and before any hook that logs.
 *
 * Handlers run inside the span, because the body is parsed in the socket's async context, which
 * belongs to no request; the span ends on the response's `close`, which Node emits exactly once.
 */
export function registerTracing(app: FastifyInstance, tracer: HttpTracer): void {
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    const traced: RouteHandlerMethod = function (this: FastifyInstance, request, reply) {
      const span = request.traceSpan;
      return span
        ? span.run(() => handler.call(this, request, reply))
        : handler.call(this, request, reply);
    };
    route.handler = traced;
  });
  app.addHook('onRequest', (request, reply, done) => {
    const span = tracer.startRequest({
      method: request.method,
      route: request.routeOptions.url,
      requestId: request.id,
      traceparent: header(request.headers.traceparent),
      tracestate: header(request.headers.tracestate),
    });
    request.traceSpan = span;
    bindTraceId(request, reply, span.traceId);
    reply.raw.once('close', () =>
      span.end({
        statusCode:
          reply.raw.writableFinished || reply.raw.writableEnded
            ? reply.statusCode
            : CLIENT_CLOSED_REQUEST,
      }),
    );
    done();
  });
}

/** A child span of the request's server span around `fn`, or just `fn` when tracing is off. */
export function traced<T>(request: FastifyRequest, name: string, fn: () => Promise<T>): Promise<T> {
  return request.traceSpan ? request.traceSpan.child(name, fn) : fn();
}
