import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { startFakeOpenAI, type FakeUpstream } from '../../support/fake-upstreams/index.js';

const token = AUTH.authorization.slice('Bearer '.length);
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;

const streamedChat = {
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Say the sentence.' }],
  max_tokens: 50,
  temperature: 0.5,
  stream: true,
  stream_options: { include_usage: true },
};

let openai: FakeUpstream;

beforeAll(async () => {
  openai = await startFakeOpenAI();
});
afterAll(async () => {
  await openai?.close();
});
beforeEach(() => openai.reset());

async function streamChat(api: Api): Promise<void> {
  const res = await api('POST', '/v1/chat/completions', {
    token,
    headers: { traceparent: CLIENT_TRACEPARENT },
    body: streamedChat,
  });
  expect(res.status).toBe(200);
  expect(parseSse(res.body).at(-1)).toBe('[DONE]');
}

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((span) => span.name === name);
  expect(found, name).toHaveLength(1);
  return found[0] as ReadableSpan;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

describe('tracing on', () => {
  const exporter = new InMemorySpanExporter();
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp(
      { OPENAI_BASE_URL: openai.url, RESPONSE_CACHE_TTL_SECONDS: '0' },
      { spanExporter: exporter },
    );
    api = apiClient(t.app.http);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('continues the client trace down to the upstream request', async () => {
    exporter.reset();
    await streamChat(api);
    // The server span ends on the response's close, just after inject resolves.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const spans = exporter.getFinishedSpans();
    for (const span of spans) expect(span.spanContext().traceId).toBe(CLIENT_TRACE_ID);

    const server = only(spans, 'POST /v1/chat/completions');
    expect(parentOf(server)).toBe(CLIENT_SPAN_ID);
    expect(server.attributes['http.request.method']).toBe('POST');
    expect(server.attributes['http.route']).toBe('/v1/chat/completions');
    expect(server.attributes['http.response.status_code']).toBe(200);
    expect(server.attributes['request.id']).toMatch(/^req_/);

    for (const name of ['authenticate', 'rate limit request', 'rate limit token reservation']) {
      expect(parentOf(only(spans, name)), name).toBe(idOf(server));
    }
    const generation = only(spans, 'chat gpt-4o');
    expect(parentOf(generation)).toBe(idOf(server));
    expect(generation.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(generation.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(generation.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);

    const attempt = spans.find((span) => span.name.startsWith('upstream openai '));
    expect(attempt).toBeDefined();
    if (!attempt) return;
    expect(parentOf(attempt)).toBe(idOf(generation));
    expect(attempt.attributes['gen_ai.system']).toBe('openai');
    expect(attempt.attributes['inference.outcome']).toBe('completed');

    const sent = openai.requests.at(-1)?.headers.traceparent;
    expect(sent).toBe(`00-${CLIENT_TRACE_ID}-${idOf(attempt)}-01`);
  });

  it('starts a new trace when the caller sends a malformed traceparent', async () => {
    exporter.reset();
    const res = await api('GET', '/v1/models', {
      token,
      headers: { traceparent: '00-not-a-trace-01' },
    });
    expect(res.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const server = only(exporter.getFinishedSpans(), 'GET /v1/models');
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('puts the trace id on every log line of the request', async () => {
    exporter.reset();
    await streamChat(api);
    const lines = t.logs.filter(
      (line) => line.msg === 'request start' || line.msg === 'model attempt',
    );
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines.slice(-2)) expect(line.trace_id).toBe(CLIENT_TRACE_ID);
  });
});

describe('tracing off', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await startTestApp({ OPENAI_BASE_URL: openai.url, RESPONSE_CACHE_TTL_SECONDS: '0' });
    api = apiClient(t.app.http);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates no span and forwards no traceparent', async () => {
    await streamChat(api);
    const sent = openai.requests.at(-1);
    expect(sent).toBeDefined();
    expect(sent?.headers.traceparent).toBeUndefined();
    expect(t.logs.some((line) => 'trace_id' in line)).toBe(false);
  });
});
