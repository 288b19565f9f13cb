import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatContentPart, ChatTool } from '../../../src/domain/inference/chat-request.js';
import { createAnthropicProvider } from '../../../src/providers/anthropic/index.js';
import type { UpstreamModelProvider } from '../../../src/providers/shared/upstream-runtime.js';
import { type FakeUpstream, startFakeAnthropic } from '../../support/fake-upstreams/index.js';
import { allEvents, chatBody, doneOf, mergedCalls, textOf } from './anthropic-chat-helpers.js';
import { recordingLogger } from './helpers.js';

const WEATHER: ChatTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius'] } },
      required: ['city', 'unit'],
    },
  },
};
const TIME: ChatTool = {
  type: 'function',
  function: {
    name: 'get_time',
    parameters: { type: 'object', properties: { zone: { type: 'string' } } },
    strict: true,
  },
};
const ANTHROPIC_WEATHER = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: WEATHER.function.parameters,
};
const ANTHROPIC_TIME = { name: 'get_time', input_schema: TIME.function.parameters, strict: true };
const ASK = [{ role: 'user' as const, content: 'Weather and time in Paris?' }];
/** What the fake makes of each tool's schema (see anthropic-tool-use.ts). */
const WEATHER_INPUT = { city: 'fake', unit: 'celsius' };
const TIME_INPUT = { zone: 'fake' };

describe('Anthropic provider: Chat Completions translated both ways', () => {
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

  const base = { model: 'claude-test', max_tokens: 64, temperature: 0.5, stream: true };

  it.each([
    ['absent', {}, undefined],
    ['auto', { tool_choice: 'auto' }, { type: 'auto' }],
    ['required', { tool_choice: 'required' }, { type: 'any' }],
    ['none', { tool_choice: 'none' }, { type: 'none' }],
    [
      'a named function',
      { tool_choice: { type: 'function', function: { name: 'get_time' } } },
      { type: 'tool', name: 'get_time' },
    ],
    [
      'required without parallel calls',
      { tool_choice: 'required', parallel_tool_calls: false },
      { type: 'any', disable_parallel_tool_use: true },
    ],
    [
      'parallel_tool_calls false alone',
      { parallel_tool_calls: false },
      { type: 'auto', disable_parallel_tool_use: true },
    ],
  ] as const)('sends tools with tool_choice %s as Anthropic tools', async (_, fields, choice) => {
    await allEvents(
      provider.generate(chatBody({ messages: ASK, tools: [WEATHER, TIME], ...fields })),
    );
    expect(fake.requests[0]?.body).toEqual({
      ...base,
      messages: [{ role: 'user', content: 'Weather and time in Paris?' }],
      tools: [ANTHROPIC_WEATHER, ANTHROPIC_TIME],
      ...(choice === undefined ? {} : { tool_choice: choice }),
    });
  });

  it('streams parallel tool calls split across many chunks as calls 0 and 1 with stable ids', async () => {
    const events = await allEvents(
      provider.generate(
        chatBody({ messages: ASK, tools: [WEATHER, TIME], tool_choice: 'required' }),
      ),
    );
    expect(textOf(events)).toBe('');
    const calls = mergedCalls(events);
    expect(calls.map(({ pieces: _, ...call }) => call)).toEqual([
      {
        index: 0,
        id: 'toolu_fake_0_0',
        name: 'get_weather',
        arguments: JSON.stringify(WEATHER_INPUT),
      },
      { index: 1, id: 'toolu_fake_0_1', name: 'get_time', arguments: JSON.stringify(TIME_INPUT) },
    ]);
    // Many input_json_delta events per call, each its own piece; id and name only on the first.
    expect(calls.every((call) => call.pieces > 3)).toBe(true);
    const pieces = events.filter((event) => event.type === 'toolCall');
    expect(pieces.filter((event) => event.id !== undefined)).toHaveLength(2);
    expect(pieces.filter((event) => event.name !== undefined)).toHaveLength(2);
    // Call 1 starts only after call 0 is complete, as Anthropic sends blocks one after another.
    const firstOfSecond = pieces.findIndex((event) => event.index === 1);
    expect(pieces.slice(firstOfSecond).every((event) => event.index === 1)).toBe(true);
    expect(doneOf(events).finishReason).toBe('tool_calls');
  });

  it('numbers tool calls from 0 after a text block, whatever Anthropic’s block index', async () => {
    const events = await allEvents(
      provider.generate(chatBody({ messages: ASK, tools: [WEATHER], parallel_tool_calls: false })),
    );
    expect(textOf(events)).toBe('The quick brown fox jumps over the lazy dog.');
    expect(events.findIndex((e) => e.type === 'toolCall')).toBeGreaterThan(
      events.findIndex((e) => e.type === 'text'),
    );
    expect(mergedCalls(events)).toMatchObject([
      {
        index: 0,
        id: 'toolu_fake_0_0',
        name: 'get_weather',
        arguments: JSON.stringify(WEATHER_INPUT),
      },
    ]);
    expect(doneOf(events).finishReason).toBe('tool_calls');
  });

  it('answers in text with tool_choice none', async () => {
    const events = await allEvents(
      provider.generate(chatBody({ messages: ASK, tools: [WEATHER], tool_choice: 'none' })),
    );
    expect(mergedCalls(events)).toEqual([]);
    expect(textOf(events)).toBe('The quick brown fox jumps over the lazy dog.');
    expect(doneOf(events).finishReason).toBe('stop');
  });

  it('sends a tool round trip as tool_use blocks and one user turn of tool_results', async () => {
    const events = await allEvents(
      provider.generate(
        chatBody({
          messages: [
            { role: 'system', content: 'Use the tools.' },
            ...ASK,
            {
              role: 'assistant',
              content: 'Let me look.',
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
                },
                { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
              ],
            },
            { role: 'tool', tool_call_id: 'call_1', content: '18 °C and sunny' },
            { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '14:05' }] },
          ],
          tools: [WEATHER, TIME],
        }),
      ),
    );
    expect(fake.requests[0]?.body).toEqual({
      ...base,
      system: 'Use the tools.',
      messages: [
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me look.' },
            {
              type: 'tool_use',
              id: 'call_1',
              name: 'get_weather',
              input: { city: 'Paris', unit: 'celsius' },
            },
            { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'call_1',
              content: [{ type: 'text', text: '18 °C and sunny' }],
            },
            {
              type: 'tool_result',
              tool_use_id: 'call_2',
              content: [{ type: 'text', text: '14:05' }],
            },
          ],
        },
      ],
      tools: [ANTHROPIC_WEATHER, ANTHROPIC_TIME],
    });
    // Given the results, the model answers.
    expect(mergedCalls(events)).toEqual([]);
    expect(textOf(events)).toBe('The quick brown fox jumps over the lazy dog.');
    expect(doneOf(events).finishReason).toBe('stop');
  });

  it('sends image parts as base64 and URL image blocks', async () => {
    const png =
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==';
    const events = await allEvents(
      provider.generate(
        chatBody({
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is in these?' },
                { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
                {
                  type: 'image_url',
                  image_url: { url: 'https://example.com/cat.jpg', detail: 'auto' },
                },
              ],
            },
          ],
        }),
      ),
    );
    expect(fake.requests[0]?.body).toEqual({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(fake.requests[0]?.status).toBe(200);
    expect(doneOf(events).finishReason).toBe('stop');
  });

  it('answers json_schema through a forced tool whose input is the message content', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, temperature: { type: 'number' } },
      required: ['city', 'temperature'],
      additionalProperties: false,
    };
    const events = await allEvents(
      provider.generate(
        chatBody({
          messages: ASK,
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'weather', description: 'A forecast', schema, strict: true },
          },
        }),
      ),
    );
    const body = fake.requests[0]?.body;
    expect(body).toEqual({
      ...base,
      messages: [{ role: 'user', content: 'Weather and time in Paris?' }],
      tools: [
        {
          name: 'weather',
          description: expect.stringMatching(/^A forecast\n\n/) as unknown,
          input_schema: schema,
          strict: true,
        },
      ],
      tool_choice: { type: 'tool', name: 'weather' },
    });
    expect(mergedCalls(events)).toEqual([]);
    expect(JSON.parse(textOf(events))).toEqual({ city: 'fake', temperature: 42 });
    expect(doneOf(events).finishReason).toBe('stop');
  });

  it('lets the model call a client tool or answer in the schema when both are given', async () => {
    const events = await allEvents(
      provider.generate(
        chatBody({
          messages: ASK,
          tools: [WEATHER],
          response_format: { type: 'json_object' },
        }),
      ),
    );
    const body = fake.requests[0]?.body as { tools: { name: string }[]; tool_choice: unknown };
    expect(body.tools.map((tool) => tool.name)).toEqual(['get_weather', 'json_object']);
    expect(body.tool_choice).toEqual({ type: 'any' });
    // The fake calls both: one a tool call, the other the content.
    expect(mergedCalls(events).map((call) => call.name)).toEqual(['get_weather']);
    expect(JSON.parse(textOf(events))).toEqual({});
    expect(doneOf(events).finishReason).toBe('tool_calls');
  });

  it('sends a cache breakpoint as cache_control and maps cache reads into the usage', async () => {
    const events = await allEvents(
      provider.generate(
        chatBody({
          messages: [
            {
              role: 'user',
              content: [
                {
                  type: 'text',
                  text: 'A long shared preamble',
                  prompt_cache_breakpoint: { mode: 'explicit' },
                  // The schema has the field; the domain's part type does not name it yet.
                } as ChatContentPart,
                { type: 'text', text: 'then the question' },
              ],
            },
          ],
          user: 'user-42',
        }),
      ),
    );
    expect(fake.requests[0]?.body).toEqual({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'A long shared preamble', cache_control: { type: 'ephemeral' } },
            { type: 'text', text: 'then the question' },
          ],
        },
      ],
      metadata: { user_id: 'user-42' },
    });
    // The fake read the 4 marked words from its cache: input_tokens 3 + cache_read 4.
    expect(doneOf(events).usage).toEqual({ promptTokens: 7, completionTokens: 9, cachedTokens: 4 });
  });

  it('refuses what it cannot translate before sending anything', async () => {
    await expect(
      allEvents(
        provider.generate(chatBody({ messages: [{ role: 'user', content: 'Hi', name: 'alice' }] })),
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR', param: 'messages[0].name' });
    expect(fake.requests).toHaveLength(0);
  });
});
