import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import {
  silentSpan,
  silentTracing,
  type SpanScope,
  type Tracing as TracingPort,
} from '../../../src/domain/observability.js';
import { ModelRouter } from '../../../src/domain/routing/model-router.js';
import { createTracing, type Tracing } from '../../../src/observability/tracing.js';
import { ScriptedProvider } from '../routing/scripted-provider.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`;
const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

function request(overrides: Partial<Parameters<Tracing['http']['startRequest']>[0]> = {}) {
  return {
    method: 'GET',
    route: '/v1/models',
    requestId: 'req_test',
    traceparent: undefined,
    tracestate: undefined,
    ...overrides,
  };
}

describe('createTracing off', () => {
  it('returns nothing without an endpoint or an exporter, so the silent port is used', () => {
    expect(createTracing({})).toBeUndefined();
  });

  it('leaves the silent port without spans or trace context', async () => {
    expect(silentTracing.start('x', { a: 1 })).toBe(silentSpan);
    expect(silentTracing.traceparent()).toBeUndefined();
    await expect(
      silentTracing.span('x', {}, async (span) => {
        expect(span).toBe(silentSpan);
        return 42;
      }),
    ).resolves.toBe(42);
  });

  it('is on with an OTLP endpoint alone', async () => {
    const tracing = createTracing({ otlpEndpoint: 'http://127.0.0.1:4318/' });
    expect(tracing).toBeDefined();
    await tracing?.close(); // nothing buffered: nothing is sent
  });
});

describe('sampling', () => {
  async function serverSpans(
    sampler: { kind: string; ratio: number },
    traceparent?: string,
  ): Promise<number> {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing({ exporter, sampler });
    if (!tracing) throw new Error('tracing should be on');
    tracing.http.startRequest(request({ traceparent })).end({ statusCode: 200 });
    await new Promise((resolve) => setImmediate(resolve));
    const count = exporter.getFinishedSpans().length;
    await tracing.close();
    return count;
  }

  it('records nothing with always_off or a ratio of 0 for new traces', async () => {
    expect(await serverSpans({ kind: 'always_off', ratio: 1 })).toBe(0);
    expect(await serverSpans({ kind: 'parentbased_traceidratio', ratio: 0 })).toBe(0);
    expect(await serverSpans({ kind: 'parentbased_traceidratio', ratio: 1 })).toBe(1);
  });

  it('follows a sampled caller under a parent-based sampler, whatever the ratio', async () => {
    expect(await serverSpans({ kind: 'parentbased_traceidratio', ratio: 0 }, TRACEPARENT)).toBe(1);
    expect(await serverSpans({ kind: 'traceidratio', ratio: 0 }, TRACEPARENT)).toBe(0);
  });
});

describe('createTracing with an exporter', () => {
  let exporter: InMemorySpanExporter;
  let tracing: Tracing;
  let port: TracingPort;

  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    const created = createTracing({ exporter });
    if (!created) throw new Error('tracing should be on');
    tracing = created;
    port = tracing.tracing;
  });
  afterEach(async () => {
    await tracing.close();
  });

  /** The exporter's spans; SimpleSpanProcessor hands them over when they end. */
  async function finished(): Promise<ReadableSpan[]> {
    await new Promise((resolve) => setImmediate(resolve));
    return exporter.getFinishedSpans();
  }

  async function only(name: string): Promise<ReadableSpan> {
    const found = (await finished()).filter((span) => span.name === name);
    expect(found, name).toHaveLength(1);
    return found[0] as ReadableSpan;
  }

  describe('the request span', () => {
    it('continues a valid incoming traceparent, and keeps its tracestate', async () => {
      const handle = tracing.http.startRequest(
        request({ traceparent: TRACEPARENT, tracestate: 'vendor=abc' }),
      );
      expect(handle.traceId).toBe(TRACE_ID);
      handle.end({ statusCode: 200 });

      const server = await only('GET /v1/models');
      expect(traceOf(server)).toBe(TRACE_ID);
      expect(parentOf(server)).toBe(PARENT_SPAN_ID);
      expect(server.parentSpanContext?.isRemote).toBe(true);
      expect(server.spanContext().traceState?.get('vendor')).toBe('abc');
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.attributes).toEqual({
        'http.request.method': 'GET',
        'http.route': '/v1/models',
        'request.id': 'req_test',
        'http.response.status_code': 200,
      });
      expect(server.status.code).toBe(SpanStatusCode.UNSET);
    });

    it.each([
      ['malformed', '00-not-a-trace-01'],
      ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_SPAN_ID}-01`],
      ['an all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
      ['upper-case hex', TRACEPARENT.toUpperCase()],
      ['version ff', `ff-${TRACE_ID}-${PARENT_SPAN_ID}-01`],
    ])('starts a new trace for a %s traceparent', async (_case, traceparent) => {
      const handle = tracing.http.startRequest(request({ traceparent }));
      handle.end({ statusCode: 200 });

      const server = await only('GET /v1/models');
      expect(server.parentSpanContext).toBeUndefined();
      expect(traceOf(server)).toMatch(/^[0-9a-f]{32}$/);
      expect(traceOf(server)).not.toBe(TRACE_ID);
      expect(handle.traceId).toBe(traceOf(server));
    });

    it('starts a new trace per request without a traceparent', async () => {
      const first = tracing.http.startRequest(request());
      const second = tracing.http.startRequest(request());
      first.end({ statusCode: 200 });
      second.end({ statusCode: 200 });
      expect(first.traceId).not.toBe(second.traceId);
      for (const span of await finished()) expect(span.parentSpanContext).toBeUndefined();
    });

    it('is named by the method alone, without a route attribute, for an unmatched path', async () => {
      tracing.http.startRequest(request({ route: undefined })).end({ statusCode: 404 });
      const server = await only('GET');
      expect(server.attributes).not.toHaveProperty('http.route');
      expect(server.attributes['http.response.status_code']).toBe(404);
      expect(server.status.code).toBe(SpanStatusCode.UNSET);
    });

    it('is an error for a 5xx answer, not for a 4xx one', async () => {
      tracing.http.startRequest(request({ requestId: 'a' })).end({ statusCode: 503 });
      tracing.http.startRequest(request({ requestId: 'b' })).end({ statusCode: 429 });
      const byId = new Map((await finished()).map((s) => [s.attributes['request.id'], s]));
      expect(byId.get('a')?.status.code).toBe(SpanStatusCode.ERROR);
      expect(byId.get('b')?.status.code).toBe(SpanStatusCode.UNSET);
    });

    it('exports nothing for a caller that did not sample, yet passes its decision on', async () => {
      const handle = tracing.http.startRequest(
        request({ traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-00` }),
      );
      const outgoing = handle.run(() => port.traceparent());
      handle.end({ statusCode: 200 });
      expect(await finished()).toHaveLength(0);
      expect(outgoing).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    });
  });

  describe('nesting', () => {
    it('puts child spans and domain spans run inside the request under its span', async () => {
      const handle = tracing.http.startRequest(request({ traceparent: TRACEPARENT }));
      await handle.child('authenticate', async () => undefined);
      await handle.run(() =>
        port.span('chat gpt-4o', {}, () => port.span('response cache lookup', {}, async () => 1)),
      );
      handle.end({ statusCode: 200 });

      const server = await only('GET /v1/models');
      const authenticate = await only('authenticate');
      const generation = await only('chat gpt-4o');
      const lookup = await only('response cache lookup');
      expect(parentOf(authenticate)).toBe(idOf(server));
      expect(parentOf(generation)).toBe(idOf(server));
      expect(parentOf(lookup)).toBe(idOf(generation));
      for (const span of [authenticate, generation, lookup]) {
        expect(traceOf(span)).toBe(TRACE_ID);
        expect(span.kind).toBe(SpanKind.INTERNAL);
      }
    });

    it('keeps concurrent requests apart', async () => {
      const first = tracing.http.startRequest(request({ requestId: 'first' }));
      const second = tracing.http.startRequest(request({ requestId: 'second' }));
      await Promise.all([
        first.run(() => port.span('work first', {}, () => new Promise((r) => setTimeout(r, 5)))),
        second.run(() => port.span('work second', {}, () => new Promise((r) => setTimeout(r, 1)))),
      ]);
      first.end({ statusCode: 200 });
      second.end({ statusCode: 200 });
      const spans = await finished();
      const server = (id: string) => spans.find((s) => s.attributes['request.id'] === id);
      expect(parentOf(await only('work first'))).toBe(server('first')?.spanContext().spanId);
      expect(parentOf(await only('work second'))).toBe(server('second')?.spanContext().spanId);
      expect(traceOf(await only('work first'))).toBe(first.traceId);
    });

    it('starts a root span outside any request', async () => {
      await port.span('background', {}, async () => undefined);
      expect((await only('background')).parentSpanContext).toBeUndefined();
      expect(port.traceparent()).toBeUndefined();
    });

    it('places a started span under an explicit parent, wherever it is started', async () => {
      const handle = tracing.http.startRequest(request());
      const generation = handle.run(() => port.start('chat gpt-4o', {}));
      // Outside the request's context, as when a stream is pulled later by its reader.
      const attempt = port.start(
        'upstream openai gpt-4o',
        {},
        { parent: generation, kind: 'client' },
      );
      attempt.end();
      generation.end();
      handle.end({ statusCode: 200 });

      const upstream = await only('upstream openai gpt-4o');
      expect(upstream.kind).toBe(SpanKind.CLIENT);
      expect(parentOf(upstream)).toBe(idOf(await only('chat gpt-4o')));
      expect(traceOf(upstream)).toBe(handle.traceId);
    });

    it('falls back to the current span for a parent that is not its own', async () => {
      const handle = tracing.http.startRequest(request());
      const span = handle.run(() => port.start('orphan', {}, { parent: silentSpan }));
      span.end();
      handle.end({ statusCode: 200 });
      expect(parentOf(await only('orphan'))).toBe(idOf(await only('GET /v1/models')));
    });
  });

  describe('the domain port', () => {
    it('records the attributes passed, leaving undefined ones out and copying arrays', async () => {
      const reasons = ['stop'];
      const result = await port.span(
        'chat gpt-4o',
        {
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.request.max_tokens': 50,
          'gen_ai.request.temperature': undefined,
          'inference.stream': true,
        },
        async (span) => {
          span.setAttributes({
            'gen_ai.response.finish_reasons': reasons,
            'gen_ai.usage.output_tokens': undefined,
          });
          return 'ok';
        },
      );
      reasons.push('length');
      expect(result).toBe('ok');
      const span = await only('chat gpt-4o');
      expect(span.attributes).toEqual({
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.request.max_tokens': 50,
        'inference.stream': true,
        'gen_ai.response.finish_reasons': ['stop'],
      });
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.ended).toBe(true);
    });

    it('marks a span failed with an AppError code, and rethrows', async () => {
      const error = new AppError('UPSTREAM_TIMEOUT', { message: 'secret prompt text' });
      await expect(port.span('chat gpt-4o', {}, () => Promise.reject(error))).rejects.toBe(error);
      const span = await only('chat gpt-4o');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'UPSTREAM_TIMEOUT' });
      expect(span.attributes['error.type']).toBe('UPSTREAM_TIMEOUT');
      // Only the code: a message can quote user input.
      expect(span.events).toEqual([]);
      expect(JSON.stringify(span.attributes)).not.toContain('secret');
    });

    it('marks any other error INTERNAL_ERROR', async () => {
      await expect(
        port.span('chat gpt-4o', {}, async () => {
          throw new TypeError('token sk-live-123 in a message');
        }),
      ).rejects.toThrow(TypeError);
      const span = await only('chat gpt-4o');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'INTERNAL_ERROR' });
      expect(span.attributes['error.type']).toBe('INTERNAL_ERROR');
      expect(span.events).toEqual([]);
      expect(JSON.stringify(span.attributes)).not.toContain('sk-live-123');
    });

    it('records a failure passed to fail() on a started span', async () => {
      const span = port.start('upstream openai gpt-4o', {}, { kind: 'client' });
      span.fail(new AppError('UPSTREAM_ERROR'));
      span.end();
      const exported = await only('upstream openai gpt-4o');
      expect(exported.status.code).toBe(SpanStatusCode.ERROR);
      expect(exported.attributes['error.type']).toBe('UPSTREAM_ERROR');
    });

    it('ends a started span once, however often end() is called', async () => {
      const span = port.start('once', {});
      span.end();
      span.end();
      expect(await finished()).toHaveLength(1);
    });

    it('gives each span its W3C traceparent and trace id', async () => {
      const handle = tracing.http.startRequest(request({ traceparent: TRACEPARENT }));
      const span = handle.run(() => port.start('chat gpt-4o', {}));
      const current = handle.run(() => port.traceparent());
      span.end();
      handle.end({ statusCode: 200 });

      expect(span.traceId()).toBe(TRACE_ID);
      expect(span.traceparent()).toBe(`00-${TRACE_ID}-${idOf(await only('chat gpt-4o'))}-01`);
      expect(current).toBe(`00-${TRACE_ID}-${idOf(await only('GET /v1/models'))}-01`);
    });
  });

  describe('propagation to upstreams', () => {
    it('sends each upstream attempt its own client span as traceparent', async () => {
      const upstream = new ScriptedProvider('openai');
      const router = new ModelRouter({
        routes: [
          {
            id: 'gpt-4o',
            ownedBy: 'openai',
            created: 0,
            targets: [{ provider: 'openai', model: 'gpt-4o-2024', weight: 1, timeoutMs: 1000 }],
            fallbacks: [],
          },
        ],
        providers: new Map([['openai', upstream]]),
        tracing: port,
      });
      const handle = tracing.http.startRequest(request({ traceparent: TRACEPARENT }));
      const generation: SpanScope = handle.run(() => port.start('chat gpt-4o', {}));
      const events = router.generate(
        'gpt-4o',
        {
          input: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] },
          maxTokens: 5,
          temperature: 1,
          topP: 1,
          stop: [],
          signal: new AbortController().signal,
          forwardHeaders: { baggage: 'k=v' },
        },
        { span: generation },
      );
      for await (const event of events) void event;
      generation.end();
      handle.end({ statusCode: 200 });

      const attempt = await only('upstream openai gpt-4o-2024');
      expect(attempt.kind).toBe(SpanKind.CLIENT);
      expect(parentOf(attempt)).toBe(idOf(await only('chat gpt-4o')));
      const sent = upstream.calls[0]?.forwardHeaders;
      expect(sent).toEqual({ baggage: 'k=v', traceparent: `00-${TRACE_ID}-${idOf(attempt)}-01` });
      expect(sent?.traceparent).toMatch(TRACEPARENT_PATTERN);
    });
  });
});
