import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createAnthropicProvider,
  PLACEHOLDER_TURN,
} from '../../../src/providers/anthropic/index.js';
import type { UpstreamModelProvider } from '../../../src/providers/shared/upstream-runtime.js';
import {
  DEFAULT_REPLY,
  type FakeUpstream,
  startFakeAnthropic,
} from '../../support/fake-upstreams/index.js';
import { chatRequest, collect, recordingLogger } from './helpers.js';

const WORDS = DEFAULT_REPLY.split(' ').map((word, index) => (index === 0 ? word : ` ${word}`));

describe('Anthropic provider', () => {
  let fake: FakeUpstream;
  let provider: UpstreamModelProvider;

  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: 'sk-ant-test-key-123456' });
    provider = createAnthropicProvider({
      name: 'anthropic',
      baseUrl: fake.url,
      apiKey: 'sk-ant-test-key-123456',
      logger: recordingLogger(),
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
    });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  it('translates the event stream into text and a done with the upstream usage', async () => {
    const result = await collect(provider.generate(chatRequest()));
    expect(result.error).toBeUndefined();
    expect(result.texts).toEqual(WORDS);
    expect(result.done).toEqual({
      finishReason: 'stop',
      usage: { promptTokens: 3, completionTokens: WORDS.length },
    });
  });

  it('maps max_tokens to length', async () => {
    const result = await collect(provider.generate(chatRequest(undefined, { maxTokens: 2 })));
    expect(result.texts).toEqual(WORDS.slice(0, 2));
    expect(result.done?.finishReason).toBe('length');
  });

  it('sends a Messages API request: system lifted out, turns merged, Anthropic parameters', async () => {
    await collect(
      provider.generate(
        chatRequest(
          [
            { role: 'system', content: 'Be brief.' },
            { role: 'assistant', content: 'Hi! How can I help?' },
            { role: 'user', content: 'Tell me' },
            { role: 'user', content: 'a story' },
            { role: 'developer', content: 'No violence.' },
            { role: 'assistant', content: 'Once ' },
          ],
          {
            model: 'claude-test',
            maxTokens: 100,
            temperature: 1,
            topP: 0.9,
            stop: ['THE END'],
            seed: 7,
            forwardHeaders: { traceparent: '00-abc-def-01', 'x-api-key': 'client-secret' },
          },
        ),
      ),
    );
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent?.path).toBe('/v1/messages');
    expect(sent?.headers['x-api-key']).toBe('sk-ant-test-key-123456');
    expect(sent?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent?.headers.traceparent).toBe('00-abc-def-01');
    expect(sent?.headers.authorization).toBeUndefined();
    expect(sent?.body).toEqual({
      model: 'claude-test',
      system: 'Be brief.\n\nNo violence.',
      messages: [
        { role: 'user', content: PLACEHOLDER_TURN },
        { role: 'assistant', content: 'Hi! How can I help?' },
        { role: 'user', content: 'Tell me\n\na story' },
        { role: 'assistant', content: 'Once' },
      ],
      max_tokens: 100,
      temperature: 1,
      top_p: 0.9,
      stop_sequences: ['THE END'],
      stream: true,
    });
  });

  it('sends a text prompt as one user message and leaves out top_p = 1 and empty stops', async () => {
    await collect(
      provider.generate({ ...chatRequest(), input: { kind: 'text', prompt: 'Once upon a time' } }),
    );
    const [sent] = fake.requests;
    expect(sent?.body).toEqual({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 64,
      temperature: 0.5,
      stream: true,
    });
  });

  it('retries an overloaded error event that came before any text', async () => {
    fake.queueModes({ errorEventAfterChunks: 0 });
    const result = await collect(provider.generate(chatRequest()));
    expect(result.error).toBeUndefined();
    expect(result.texts).toEqual(WORDS);
    expect(fake.requests).toHaveLength(2);
  });

  it('uses a configured anthropic-version', async () => {
    const custom = createAnthropicProvider({
      name: 'anthropic-beta',
      baseUrl: fake.url,
      apiKey: 'sk-ant-test-key-123456',
      anthropicVersion: '2099-01-01',
      logger: recordingLogger(),
    });
    try {
      await collect(custom.generate(chatRequest()));
      expect(fake.requests[0]?.headers['anthropic-version']).toBe('2099-01-01');
    } finally {
      await custom.close();
    }
  });
});
