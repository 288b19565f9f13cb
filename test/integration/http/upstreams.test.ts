import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import {
  DEFAULT_REPLY,
  FAKE_SECRET,
  fakeModes,
  startFakeAnthropic,
  startFakeOpenAI,
  type FakeUpstream,
} from '../../support/fake-upstreams/index.js';

const OPENAI_KEY = 'sk-upstream-openai-key-for-tests';
const ANTHROPIC_KEY = 'sk-ant-upstream-key-for-tests';
const token = AUTH.authorization.slice('Bearer '.length);

let openai: FakeUpstream;
let anthropic: FakeUpstream;
let t: TestApp;
let api: Api;
let dir: string;

beforeAll(async () => {
  openai = await startFakeOpenAI({ apiKey: OPENAI_KEY });
  anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY });
  dir = await mkdtemp(path.join(tmpdir(), 'inference-api-models-'));
  const modelsFile = path.join(dir, 'models.yaml');
  await writeFile(
    modelsFile,
    [
      'models:',
      '  - id: resilient',
      '    targets:',
      '      - provider: openai',
      '        model: primary',
      '    fallbacks:',
      '      - provider: anthropic',
      '        model: backup',
      '  - id: slowpoke',
      '    targets:',
      '      - provider: openai',
      '        model: slow',
      '        timeout_ms: 800',
      '',
    ].join('\n'),
  );
  t = await startTestApp({
    OPENAI_BASE_URL: `${openai.url}`,
    OPENAI_API_KEY: OPENAI_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    MODELS_FILE: modelsFile,
    RESPONSE_CACHE_TTL_SECONDS: '0',
  });
  api = apiClient(t.app.http);
});
afterAll(async () => {
  await t?.close();
  await openai?.close();
  await anthropic?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  openai.reset();
  anthropic.reset();
});

const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Say the sentence.' },
  ],
  max_tokens: 50,
  ...extra,
});

describe('routing to upstream providers', () => {
  it('lists exactly what can be served now', async () => {
    const ids = (await api('GET', '/v1/models', { token })).json<{
      data: { id: string; owned_by: string }[];
    }>().data;
    expect(ids.map((m) => m.id).sort()).toEqual([
      'claude-3-5-sonnet',
      'gpt-4o',
      'resilient',
      'slowpoke',
      'tiny-wordnet',
    ]);
    expect(ids.find((m) => m.id === 'gpt-4o')?.owned_by).toBe('openai');
  });

  it('serves gpt-4o from the OpenAI-compatible upstream', async () => {
    const res = await api('POST', '/v1/chat/completions', { token, body: chat('gpt-4o') });
    expect(res.status, res.body).toBe(200);
    const body = res.json<{
      choices: { message: { content: string }; finish_reason: string }[];
      usage: { completion_tokens: number };
    }>();
    expect(body.choices[0]?.message.content).toBe(DEFAULT_REPLY);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    const sent = openai.requests.at(-1);
    expect(sent?.body?.model).toBe('gpt-4o');
    expect(sent?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(String(res.headers['server-timing'])).toMatch(/upstream;dur=/);
  });

  it('streams claude-3-5-sonnet from the Anthropic upstream as OpenAI chunks', async () => {
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: chat('claude-3-5-sonnet', { stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    const events = parseSse(res.body);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(DEFAULT_REPLY);
    expect(chunks.at(-1).usage.completion_tokens).toBeGreaterThan(0);
    const sent = anthropic.requests.at(-1);
    expect(sent?.body?.model).toBe('claude-3-5-sonnet-20241022');
    expect(sent?.body?.system).toBe('Be brief.');
    expect(sent?.headers['x-api-key']).toBe(ANTHROPIC_KEY);
  });

  it('falls back to the next target when one fails before answering', async () => {
    openai.setMode(fakeModes.failThenSucceed(100, 500), { model: 'primary' });
    const res = await api('POST', '/v1/chat/completions', { token, body: chat('resilient') });
    expect(res.status, res.body).toBe(200);
    expect(
      res.json<{ choices: { message: { content: string } }[] }>().choices[0]?.message.content,
    ).toBe(DEFAULT_REPLY);
    expect(anthropic.requests.at(-1)?.body?.model).toBe('backup');
    const attempts = t.logs.filter(
      (line) => line.msg === 'model attempt' && line.model === 'resilient',
    );
    expect(attempts.map((a) => a.outcome)).toEqual(
      expect.arrayContaining(['failed_over', 'completed']),
    );
    openai.setMode(fakeModes.normal(), { model: 'primary' });
  });

  it('falls back at once when the target asks to be retried only after a long wait', async () => {
    openai.setMode(fakeModes.rateLimited(100, '240'), { model: 'primary' });
    const res = await api('POST', '/v1/chat/completions', { token, body: chat('resilient') });
    expect(res.status, res.body).toBe(200);
    expect(openai.requests.filter((r) => r.body?.model === 'primary')).toHaveLength(1);
    expect(anthropic.requests.at(-1)?.body?.model).toBe('backup');
    openai.setMode(fakeModes.normal(), { model: 'primary' });
  });

  it('maps an upstream refusal to 502 without leaking its body or our key', async () => {
    anthropic.setMode(fakeModes.badRequest());
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: chat('claude-3-5-sonnet'),
    });
    expect(res.status).toBe(502);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('UPSTREAM_ERROR');
    expect(res.body).not.toContain(FAKE_SECRET);
    expect(res.body).not.toContain(ANTHROPIC_KEY);
    expect(t.rawLogs()).not.toContain(ANTHROPIC_KEY);
    anthropic.setMode(fakeModes.normal());
  });

  it('times out an upstream that never answers with 504', async () => {
    openai.setMode(fakeModes.neverAnswer(), { model: 'slow' });
    const res = await api('POST', '/v1/chat/completions', { token, body: chat('slowpoke') });
    expect(res.status).toBe(504);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('UPSTREAM_TIMEOUT');
    openai.setMode(fakeModes.normal(), { model: 'slow' });
  });

  it('ends a stream that breaks midway with an error event and no [DONE]', async () => {
    openai.setMode(fakeModes.dropMidStream(3));
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: chat('gpt-4o', { stream: true }),
    });
    expect(res.status).toBe(200);
    const events = parseSse(res.body);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1) as string);
    expect(last.error.code).toBe('UPSTREAM_ERROR');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop')).toBe(false);
    openai.setMode(fakeModes.normal());
  });

  it('meters a stream that broke by what it streamed, and a failure before any text as nothing', async () => {
    openai.setMode(fakeModes.dropMidStream(3));
    await api('POST', '/v1/chat/completions', {
      token,
      headers: { 'x-request-id': 'broke-after-three-words' },
      body: chat('gpt-4o', { stream: true }),
    });
    openai.setMode(fakeModes.badRequest());
    await api('POST', '/v1/chat/completions', {
      token,
      headers: { 'x-request-id': 'failed-before-any-text' },
      body: chat('gpt-4o'),
    });
    openai.setMode(fakeModes.normal());
    await t.app.flushUsage();

    const broken = await t.app.storage.usage.findByRequestId('broke-after-three-words');
    // "The", " quick", " brown": a token each, and the prompt the reservation counted.
    expect(broken).toMatchObject({ outcome: 'failed', completionTokens: 3 });
    expect(broken?.promptTokens).toBeGreaterThan(0);
    const failed = await t.app.storage.usage.findByRequestId('failed-before-any-text');
    expect(failed).toMatchObject({ outcome: 'failed', promptTokens: 0, completionTokens: 0 });
  });
});
