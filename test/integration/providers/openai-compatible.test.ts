import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAICompatibleProvider } from '../../../src/providers/openai-compatible/index.js';
import {
  countTextTokens,
  estimatePromptTokens,
} from '../../../src/providers/shared/token-count.js';
import type { UpstreamModelProvider } from '../../../src/providers/shared/upstream-runtime.js';
import {
  DEFAULT_REPLY,
  type FakeUpstream,
  startFakeOpenAI,
} from '../../support/fake-upstreams/index.js';
import { chatRequest, collect, expectAppError, recordingLogger } from './helpers.js';

const WORDS = DEFAULT_REPLY.split(' ').map((word, index) => (index === 0 ? word : ` ${word}`));

describe('OpenAI-compatible provider', () => {
  let fake: FakeUpstream;
  let provider: UpstreamModelProvider;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    provider = createOpenAICompatibleProvider({
      name: 'fake-openai',
      baseUrl: fake.url,
      apiKey: 'sk-test-key-123456',
      logger: recordingLogger(),
    });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  it('streams the reply in order and ends with the upstream usage', async () => {
    const result = await collect(provider.generate(chatRequest()));
    expect(result.error).toBeUndefined();
    expect(result.texts).toEqual(WORDS);
    expect(result.done).toEqual({
      finishReason: 'stop',
      usage: { promptTokens: 3, completionTokens: WORDS.length },
    });
  });

  it('reports a reply cut by max_tokens as length', async () => {
    const result = await collect(provider.generate(chatRequest(undefined, { maxTokens: 3 })));
    expect(result.texts).toEqual(WORDS.slice(0, 3));
    expect(result.done?.finishReason).toBe('length');
  });

  it('sends the chat request as OpenAI expects it', async () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hello', name: 'ann' },
    ];
    await collect(
      provider.generate(
        chatRequest(messages, {
          model: 'gpt-test',
          maxTokens: 20,
          temperature: 0.7,
          topP: 0.9,
          stop: ['END'],
          seed: 42,
          forwardHeaders: { traceparent: '00-abc-def-01', Authorization: 'Bearer client-key' },
        }),
      ),
    );
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe('Bearer sk-test-key-123456');
    expect(sent?.headers.traceparent).toBe('00-abc-def-01');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.body).toEqual({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello', name: 'ann' },
      ],
      max_tokens: 20,
      temperature: 0.7,
      top_p: 0.9,
      stop: ['END'],
      seed: 42,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends text input to /completions as a prompt and leaves out empty stop lists', async () => {
    const result = await collect(
      provider.generate({ ...chatRequest(), input: { kind: 'text', prompt: 'Once upon a time' } }),
    );
    expect(result.texts.join('')).toBe(DEFAULT_REPLY);
    const [sent] = fake.requests;
    expect(sent?.path).toBe('/v1/completions');
    expect(sent?.body).toMatchObject({ prompt: 'Once upon a time', stream: true });
    expect(sent?.body).not.toHaveProperty('messages');
    expect(sent?.body).not.toHaveProperty('stop');
    expect(sent?.body).not.toHaveProperty('seed');
    expect(result.done?.usage).toEqual({ promptTokens: 4, completionTokens: WORDS.length });
  });

  it('counts usage itself when the upstream sends none', async () => {
    fake.setMode({ includeUsage: false });
    const request = chatRequest();
    const result = await collect(provider.generate(request));
    expect(result.done?.usage).toEqual({
      promptTokens: estimatePromptTokens(request.input),
      completionTokens: countTextTokens(DEFAULT_REPLY),
    });
  });

  it('lets a request pick its fake mode through a forwarded header', async () => {
    const request = chatRequest(undefined, {
      forwardHeaders: { 'x-fake-mode': JSON.stringify({ reply: 'Hi there' }) },
    });
    const result = await collect(provider.generate(request));
    expect(result.texts).toEqual(['Hi', ' there']);
  });

  it('parses CRLF-framed events', async () => {
    fake.setMode({ crlf: true });
    const result = await collect(provider.generate(chatRequest()));
    expect(result.texts).toEqual(WORDS);
    expect(result.done?.finishReason).toBe('stop');
  });

  it('reuses keep-alive connections for later requests', async () => {
    for (let index = 0; index < 5; index += 1) await collect(provider.generate(chatRequest()));
    expect(fake.requests).toHaveLength(5);
    // undici may open a second socket while the first is being released, but no more.
    const ports = new Set(fake.requests.map((request) => request.remotePort));
    expect(ports.size).toBeLessThanOrEqual(2);
  });

  it('estimates prompt tokens with o200k_base plus a per-message overhead', () => {
    const input = {
      kind: 'chat' as const,
      messages: [{ role: 'user' as const, content: 'Hello world' }],
    };
    expect(provider.countPromptTokens(input, 'gpt-4o')).toBe(countTextTokens('Hello world') + 4);
    expect(provider.models()).toEqual([]);
  });
});

describe('OpenAI-compatible provider options', () => {
  it('sends no Authorization header without a key and applies parameter overrides', async () => {
    const fake = await startFakeOpenAI();
    const provider = createOpenAICompatibleProvider({
      name: 'local-vllm',
      baseUrl: fake.url,
      logger: recordingLogger(),
      parameters: { max_tokens: { from: 'maxTokens', to: 'max_completion_tokens' } },
    });
    try {
      await collect(provider.generate(chatRequest()));
      const [sent] = fake.requests;
      expect(sent?.headers.authorization).toBeUndefined();
      expect(sent?.body).toMatchObject({ max_completion_tokens: 64 });
      expect(sent?.body).not.toHaveProperty('max_tokens');
    } finally {
      await provider.close();
      await fake.close();
    }
  });

  it('reports rejected credentials without echoing them', async () => {
    const fake = await startFakeOpenAI({ apiKey: 'sk-right-key-0000' });
    const provider = createOpenAICompatibleProvider({
      name: 'openai',
      baseUrl: fake.url,
      apiKey: 'sk-wrong-key-1111',
      logger: recordingLogger(),
    });
    try {
      const result = await collect(provider.generate(chatRequest()));
      const error = expectAppError(result.error, 'UPSTREAM_ERROR');
      expect(error.message).toMatch(/credentials/);
      expect(error.message).not.toContain('sk-wrong-key-1111');
      expect(fake.requests).toHaveLength(1);
    } finally {
      await provider.close();
      await fake.close();
    }
  });
});
