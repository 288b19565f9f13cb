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
import {
  chatBodyRequest,
  chatRequest,
  collect,
  expectAppError,
  recordingLogger,
} from './helpers.js';

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

const UPSTREAM_MODEL = 'gpt-upstream';
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
    strict: true,
  },
};
const TIME_TOOL = {
  type: 'function',
  function: {
    name: 'get_time',
    parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  },
};
const ASK = [{ role: 'user', content: 'What is the weather in Paris?' }];

/** Client bodies that each exercise fields the plain translation would lose or change. */
const BODIES: Record<string, Record<string, unknown>> = {
  'tools (tool_choice auto)': { messages: ASK, tools: [WEATHER_TOOL], tool_choice: 'auto' },
  'tool_choice none': { messages: ASK, tools: [WEATHER_TOOL], tool_choice: 'none' },
  'tool_choice required': {
    messages: ASK,
    tools: [WEATHER_TOOL, TIME_TOOL],
    tool_choice: 'required',
  },
  'a named tool_choice': {
    messages: ASK,
    tools: [WEATHER_TOOL, TIME_TOOL],
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  },
  'parallel tool calls': {
    messages: ASK,
    tools: [WEATHER_TOOL, TIME_TOOL],
    parallel_tool_calls: true,
  },
  'a tool round trip': {
    messages: [
      ...ASK,
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature":21}' },
    ],
    tools: [WEATHER_TOOL],
  },
  'image parts': {
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ],
      },
    ],
  },
  json_schema: {
    messages: ASK,
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'weather',
        strict: true,
        schema: {
          type: 'object',
          properties: { city: { type: 'string' }, celsius: { type: 'number' } },
          required: ['city', 'celsius'],
          additionalProperties: false,
        },
      },
    },
  },
  'penalties and logit_bias': {
    messages: ASK,
    presence_penalty: 0.5,
    frequency_penalty: -0.25,
    logit_bias: { '1234': -100, '42': 5 },
  },
  logprobs: { messages: ASK, logprobs: true, top_logprobs: 3 },
  'n choices': { messages: ASK, n: 3 },
  'sampling, attribution and OpenAI-only fields': {
    messages: [{ role: 'developer', content: 'Be brief.' }, ...ASK],
    max_completion_tokens: 40,
    temperature: 0.2,
    top_p: 0.9,
    stop: ['END'],
    seed: 7,
    user: 'user-1',
    metadata: { team: 'search' },
    reasoning_effort: 'low',
    service_tier: 'flex',
    store: false,
    prediction: { type: 'content', content: 'It is sunny' },
  },
};

type Choice = {
  index: number;
  message: { content: string | null; tool_calls?: Array<{ function: { name: string } }> };
  logprobs?: { content: Array<{ token: string; top_logprobs: unknown[] }> };
  finish_reason: string;
};

/** What the answer to each body shows of the fields having reached the upstream. */
const ANSWERS: Record<string, (choices: Choice[]) => void> = {
  'tools (tool_choice auto)': ([choice]) => {
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.tool_calls?.map((call) => call.function.name)).toEqual(['get_weather']);
  },
  'tool_choice none': ([choice]) => {
    expect(choice?.message.content).toBe(DEFAULT_REPLY);
    expect(choice?.message.tool_calls).toBeUndefined();
  },
  'tool_choice required': ([choice]) => expect(choice?.finish_reason).toBe('tool_calls'),
  'a named tool_choice': ([choice]) =>
    expect(choice?.message.tool_calls?.map((call) => call.function.name)).toEqual(['get_time']),
  'parallel tool calls': ([choice]) => expect(choice?.message.tool_calls).toHaveLength(2),
  'a tool round trip': ([choice]) => expect(choice?.message.content).toBe(DEFAULT_REPLY),
  'image parts': ([choice]) => expect(choice?.finish_reason).toBe('stop'),
  json_schema: ([choice]) =>
    expect(JSON.parse(choice?.message.content ?? '')).toEqual({ city: 'fake city', celsius: 1 }),
  'penalties and logit_bias': ([choice]) => expect(choice?.message.content).toBe(DEFAULT_REPLY),
  logprobs: ([choice]) => {
    expect(choice?.logprobs?.content.map((entry) => entry.token)).toEqual(WORDS);
    expect(choice?.logprobs?.content[0]?.top_logprobs).toHaveLength(3);
  },
  'n choices': (choices) => expect(choices.map((choice) => choice.index)).toEqual([0, 1, 2]),
  'sampling, attribution and OpenAI-only fields': ([choice]) =>
    expect(choice?.message.content).toBe(DEFAULT_REPLY),
};

/** What the fake sends for a raw request body: the `data` of each SSE event, `[DONE]` left out. */
async function upstreamFrames(fake: FakeUpstream, rawBody: string): Promise<unknown[]> {
  const response = await fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: rawBody,
  });
  const text = await response.text();
  return text
    .split('\n\n')
    .map((event) => event.replace(/^data: /, ''))
    .filter((data) => data !== '' && data !== '[DONE]')
    .map((data) => JSON.parse(data) as unknown);
}

function withoutUsage(frame: unknown): unknown {
  const { usage: _usage, ...rest } = frame as Record<string, unknown>;
  return rest;
}

describe('OpenAI-compatible provider forwarding a client chat body', () => {
  let fake: FakeUpstream;
  let provider: UpstreamModelProvider;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    provider = createOpenAICompatibleProvider({
      name: 'fake-openai',
      baseUrl: fake.url,
      logger: recordingLogger(),
    });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await provider.close();
    await fake.close();
  });

  const run = (body: Record<string, unknown>) =>
    collect(
      provider.generate(
        chatBodyRequest(body as Parameters<typeof chatBodyRequest>[0], { model: UPSTREAM_MODEL }),
      ),
    );

  it('honours every Chat Completions field', () => {
    expect(provider.chatSupport).toEqual({ kind: 'all' });
  });

  describe.each(Object.entries(BODIES))('with %s', (name, body) => {
    it('sends the body as the client sent it, model rewritten, non-streamed', async () => {
      const result = await run(body);
      expect(result.error).toBeUndefined();
      expect(fake.requests).toHaveLength(1);
      const [sent] = fake.requests;
      expect(sent?.path).toBe('/v1/chat/completions');
      expect(sent?.body).toEqual({ ...body, model: UPSTREAM_MODEL });
      expect(sent?.body).not.toHaveProperty('stream');
      // The one JSON answer is relayed whole, as one event.
      expect(result.relays).toHaveLength(1);
      expect(result.relays[0]).toEqual(JSON.parse(await bodyOfAnswer(fake, sent!.rawBody)));
      expect(result.texts).toEqual([]);
      (ANSWERS[name] as (choices: Choice[]) => void)(result.relays[0]?.choices as Choice[]);
    });

    it('sends it with stream and include_usage added when streamed', async () => {
      const result = await run({ ...body, stream: true });
      expect(result.error).toBeUndefined();
      expect(fake.requests[0]?.body).toEqual({
        ...body,
        model: UPSTREAM_MODEL,
        stream: true,
        stream_options: { include_usage: true },
      });
    });
  });

  /** The fake's non-streamed answer to a body, fetched directly (it is deterministic). */
  async function bodyOfAnswer(upstream: FakeUpstream, rawBody: string): Promise<string> {
    const response = await fetch(`${upstream.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: rawBody,
    });
    return response.text();
  }

  it('relays a non-streamed tool call with its finish reason and the upstream usage', async () => {
    const result = await run(BODIES['parallel tool calls']!);
    const choice = (result.relays[0]?.choices as Array<Record<string, unknown>>)[0];
    expect(choice?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        {
          id: 'call_fake_0',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"fake city","unit":"c"}' },
        },
        {
          id: 'call_fake_1',
          type: 'function',
          function: { name: 'get_time', arguments: '{"zone":"fake zone"}' },
        },
      ],
    });
    expect(result.done?.finishReason).toBe('tool_calls');
    const reported = result.relays[0]?.usage as { completion_tokens: number };
    expect(result.done?.usage).toEqual({
      promptTokens: 6,
      completionTokens: reported.completion_tokens,
    });
    expect(result.relayEvents[0]?.tokens).toBeGreaterThan(0);
  });

  it('relays streamed tool-call deltas chunk for chunk, the usage chunk stripped', async () => {
    const result = await run({ ...BODIES['parallel tool calls'], stream: true });
    expect(result.error).toBeUndefined();
    const frames = await upstreamFrames(fake, fake.requests[0]!.rawBody);
    // The upstream sent usage: null on every chunk and a last usage-only chunk, for us only.
    const usageChunk = frames[frames.length - 1] as Record<string, unknown>;
    expect(usageChunk.choices).toEqual([]);
    expect(frames[0]).toHaveProperty('usage', null);
    expect(result.relays).toEqual(frames.slice(0, -1).map(withoutUsage));
    const deltas = result.relays.filter((chunk) => JSON.stringify(chunk).includes('"tool_calls"'));
    // Many chunks per call: the arguments were split, and each piece is relayed on its own.
    expect(deltas.length).toBeGreaterThan(10);
    expect(result.done).toEqual({
      finishReason: 'tool_calls',
      usage: {
        promptTokens: 6,
        completionTokens: (usageChunk.usage as { completion_tokens: number }).completion_tokens,
      },
    });
    const streamedTokens = result.relayEvents.reduce((sum, event) => sum + event.tokens, 0);
    expect(streamedTokens).toBeGreaterThan(0);
  });

  it('relays the usage chunk when the client asked for it', async () => {
    const result = await run({
      ...BODIES.logprobs,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(fake.requests[0]?.body).toEqual({
      ...BODIES.logprobs,
      model: UPSTREAM_MODEL,
      stream: true,
      stream_options: { include_usage: true },
    });
    const frames = await upstreamFrames(fake, fake.requests[0]!.rawBody);
    expect(result.relays).toEqual(frames);
    expect(result.relays[result.relays.length - 1]).toMatchObject({ choices: [] });
    // Logprobs reached the client as the upstream sent them.
    expect(result.relays[1]).toMatchObject({
      choices: [{ logprobs: { content: [{ token: 'The', top_logprobs: expect.any(Array) }] } }],
    });
  });

  it('keeps the client’s other stream options when it adds include_usage', async () => {
    await run({ messages: ASK, stream: true, stream_options: { include_obfuscation: false } });
    expect(fake.requests[0]?.body?.stream_options).toEqual({
      include_obfuscation: false,
      include_usage: true,
    });
  });

  it('relays every choice of a streamed n > 1 answer and reads text from the first', async () => {
    const result = await run({ messages: ASK, n: 2, stream: true });
    const indexes = new Set(
      result.relays.flatMap((chunk) =>
        (chunk.choices as Array<{ index: number }>).map((choice) => choice.index),
      ),
    );
    expect(indexes).toEqual(new Set([0, 1]));
    expect(result.relayEvents.map((event) => event.text).join('')).toBe(DEFAULT_REPLY);
    expect(result.done?.usage.completionTokens).toBe(2 * WORDS.length);
  });

  it.each([false, true])('maps cached and reasoning tokens (stream: %s)', async (stream) => {
    fake.setMode({ usageDetails: { cachedTokens: 4, reasoningTokens: 9 } });
    const result = await run({ messages: ASK, stream });
    expect(result.done?.usage).toEqual({
      promptTokens: 6,
      completionTokens: WORDS.length,
      cachedTokens: 4,
      reasoningTokens: 9,
    });
  });

  it('estimates usage of a stream whose server ignores include_usage', async () => {
    fake.setMode({ includeUsage: false });
    const result = await run({ messages: ASK, stream: true });
    expect(result.relays.length).toBeGreaterThan(WORDS.length);
    expect(result.relays.every((chunk) => !('usage' in chunk))).toBe(true);
    expect(result.done?.usage.completionTokens).toBe(countTextTokens(DEFAULT_REPLY));
  });
});
