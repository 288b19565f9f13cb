import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CHAT_MODEL,
  EMBEDDING_MODEL,
  GATEWAY_HOOK_TIMEOUT_MS,
  startClientGateway,
  UPSTREAM_CHAT_MODEL,
  UPSTREAM_EMBEDDING_MODEL,
  type ClientGateway,
} from '../support/client-gateway.js';
import { expectForwarded } from '../support/forwarded-body.js';
import { callToolThenAnswer, scriptedEmbedding } from '../support/scripted-openai-upstream.js';

const ADMIN_API_KEY = 'sk-e2e-clients-openai-0123456789abcdefghij';
const LOCAL_MODEL = 'tiny-wordnet';

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current temperature in a city, in degrees Celsius.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
    strict: true,
  },
};

const weatherAnswer = (result: string): string =>
  `It is ${(JSON.parse(result) as { celsius: number }).celsius} degrees in Paris.`;

let gateway: ClientGateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startClientGateway(ADMIN_API_KEY);
  client = new OpenAI({ apiKey: ADMIN_API_KEY, baseURL: gateway.baseURL, maxRetries: 0 });
}, GATEWAY_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await gateway?.stop();
});
beforeEach(() => gateway.upstream.reset());

describe('the openai SDK with tools on an OpenAI-compatible upstream', () => {
  it('runs a manual tool loop: call, tool message, final answer, each forwarded as sent', async () => {
    gateway.upstream.script(callToolThenAnswer('get_weather', { city: 'Paris' }, weatherAnswer));
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'Use the tools.' },
      { role: 'user', content: [{ type: 'text', text: 'How warm is it in Paris?' }] },
    ];
    const first: ChatCompletionCreateParamsNonStreaming = {
      model: CHAT_MODEL,
      messages,
      tools: [weatherTool],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      temperature: 0.2,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      seed: 7,
      user: 'user-1234',
      metadata: { run: 'manual-loop' },
    };
    const called = await client.chat.completions.create(first);
    const choice = called.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('no function call');
    expect(call.id).toBe('call_get_weather_0');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

    const second: ChatCompletionCreateParamsNonStreaming = {
      ...first,
      messages: [
        ...messages,
        choice!.message,
        { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ celsius: 21 }) },
      ],
    };
    const answered = await client.chat.completions.create(second);
    expect(answered.choices[0]?.message.content).toBe('It is 21 degrees in Paris.');
    expect(answered.choices[0]?.finish_reason).toBe('stop');
    expect(answered.usage?.completion_tokens).toBeGreaterThan(0);

    const [firstSent, secondSent] = gateway.upstream.chatBodies();
    // A non-streaming request stays non-streaming upstream; nothing dropped or re-shaped.
    expectForwarded(firstSent, first as unknown as Record<string, unknown>, UPSTREAM_CHAT_MODEL);
    expectForwarded(
      secondSent,
      JSON.parse(JSON.stringify(second)) as Record<string, unknown>,
      UPSTREAM_CHAT_MODEL,
    );
  });

  it('runs tools with runTools on a stream, the SDK assembling the streamed call', async () => {
    gateway.upstream.script(callToolThenAnswer('get_weather', { city: 'Paris' }, weatherAnswer));
    const calls: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'How warm is it in Paris?' }],
      stream: true,
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'The current temperature in a city, in degrees Celsius.',
            parameters: weatherTool.function.parameters!,
            parse: (input: string) => JSON.parse(input) as { city: string },
            function: (args: { city: string }) => {
              calls.push(args);
              return { celsius: 21 };
            },
          },
        },
      ],
    });
    expect(await runner.finalContent()).toBe('It is 21 degrees in Paris.');
    expect(calls).toEqual([{ city: 'Paris' }]);

    const bodies = gateway.upstream.chatBodies();
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body.stream).toBe(true);
      expect(body.tools).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'The current temperature in a city, in degrees Celsius.',
            parameters: weatherTool.function.parameters,
          },
        },
      ]);
    }
    const roundTrip = bodies[1]?.messages as Record<string, unknown>[];
    expect(roundTrip.at(-2)).toMatchObject({
      role: 'assistant',
      tool_calls: [
        {
          id: 'call_get_weather_0',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
        },
      ],
    });
    expect(roundTrip.at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_get_weather_0',
      content: '{"celsius":21}',
    });
  });

  it('relays two parallel streamed tool calls delta by delta, stable by index and id', async () => {
    const cities = ['Paris', 'Reykjavik'];
    gateway.upstream.script(() => ({
      toolCalls: cities.map((city) => ({
        name: 'get_weather',
        arguments: JSON.stringify({ city, unit: 'celsius' }),
      })),
    }));
    const request: ChatCompletionCreateParamsStreaming = {
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Paris or Reykjavik: which is warmer?' }],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      stream: true,
    };
    const stream = client.chat.completions.stream(request);
    const deltas: NonNullable<ChatCompletionChunk.Choice.Delta['tool_calls']> = [];
    stream.on('chunk', (chunk) => deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? [])));
    const final = await stream.finalChatCompletion();

    const calls = final.choices[0]?.message.tool_calls ?? [];
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(
      calls.map((call) =>
        call.type === 'function'
          ? { id: call.id, name: call.function.name, args: JSON.parse(call.function.arguments) }
          : call,
      ),
    ).toEqual(
      cities.map((city, index) => ({
        id: `call_get_weather_${index}`,
        name: 'get_weather',
        args: { city, unit: 'celsius' },
      })),
    );
    // Every delta the upstream sent reached the client as it was: one opening each call with its
    // id and name, then the arguments in four-character pieces, by index.
    const pieces = cities.map((city) => JSON.stringify({ city, unit: 'celsius' }));
    expect(deltas).toHaveLength(pieces.reduce((n, p) => n + 1 + Math.ceil(p.length / 4), 0));
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'call_get_weather_0',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(deltas[1]).toEqual({ index: 0, function: { arguments: pieces[0]!.slice(0, 4) } });

    expectForwarded(
      gateway.upstream.chatBodies()[0],
      request as unknown as Record<string, unknown>,
      UPSTREAM_CHAT_MODEL,
    );
  });
});

describe('the openai SDK with structured output and embeddings', () => {
  const Person = z.object({
    name: z.string(),
    born: z.number().int(),
    fields: z.array(z.string()),
  });

  it('parses a json_schema answer with zodResponseFormat and chat.completions.parse', async () => {
    const ada = { name: 'Ada Lovelace', born: 1815, fields: ['mathematics', 'computing'] };
    gateway.upstream.script((body) =>
      (body.response_format as { type?: string } | undefined)?.type === 'json_schema'
        ? { content: JSON.stringify(ada) }
        : { content: 'not JSON' },
    );
    const responseFormat = zodResponseFormat(Person, 'person');
    const completion = await client.chat.completions.parse({
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Who wrote the first program?' }],
      response_format: responseFormat,
    });
    expect(completion.choices[0]?.message.parsed).toEqual(ada);
    const sent = gateway.upstream.chatBodies()[0];
    expect(sent?.response_format).toEqual(JSON.parse(JSON.stringify(responseFormat)));
    expect(sent?.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'person', strict: true },
    });
  });

  it('embeds as floats and as base64 (the SDK default), decoded to the same vectors', async () => {
    const input = ['the quick brown fox', 'jumps over the lazy dog'];
    const floats = await client.embeddings.create({
      model: EMBEDDING_MODEL,
      input,
      encoding_format: 'float',
      dimensions: 4,
    });
    expect(floats.data.map((item) => item.embedding)).toEqual([
      scriptedEmbedding(0, 4),
      scriptedEmbedding(1, 4),
    ]);
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);

    // Without encoding_format the SDK asks for base64 and decodes it itself.
    const decoded = await client.embeddings.create({ model: EMBEDDING_MODEL, input });
    expect(decoded.data.map((item) => item.embedding)).toEqual([
      scriptedEmbedding(0, 8),
      scriptedEmbedding(1, 8),
    ]);

    const [floatSent, base64Sent] = gateway.upstream.embeddingBodies();
    expect(floatSent).toMatchObject({ model: UPSTREAM_EMBEDDING_MODEL, input, dimensions: 4 });
    expect(base64Sent).toMatchObject({ model: UPSTREAM_EMBEDDING_MODEL, input });
    expect(base64Sent).not.toHaveProperty('dimensions');
  });
});

describe('the openai SDK on the built-in local model (grammar-constrained)', () => {
  it('parses a json_schema answer that always matches the schema', async () => {
    const Word = z.object({ word: z.string(), noun: z.boolean() });
    const completion = await client.chat.completions.parse({
      model: LOCAL_MODEL,
      messages: [{ role: 'user', content: 'dog' }],
      response_format: zodResponseFormat(Word, 'word'),
      max_completion_tokens: 48,
      temperature: 0,
    });
    const message = completion.choices[0]?.message;
    expect(message?.parsed).not.toBeNull();
    expect(Word.safeParse(message?.parsed).success).toBe(true);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
  });

  it('calls a required tool with arguments that match its schema', async () => {
    const completion = await client.chat.completions.create({
      model: LOCAL_MODEL,
      messages: [{ role: 'user', content: 'dog' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'define',
            parameters: {
              type: 'object',
              properties: { word: { type: 'string' } },
              required: ['word'],
            },
          },
        },
      ],
      tool_choice: 'required',
      max_completion_tokens: 48,
      temperature: 0,
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error(`no function call: ${JSON.stringify(choice)}`);
    expect(call.function.name).toBe('define');
    expect(call.id).toMatch(/\S/);
    const args = JSON.parse(call.function.arguments) as unknown;
    expect(z.object({ word: z.string() }).safeParse(args).success).toBe(true);
  });

  it('embeds with the built-in model, float and base64 alike', async () => {
    const floats = await client.embeddings.create({
      model: LOCAL_MODEL,
      input: ['dog', 'cat'],
      encoding_format: 'float',
    });
    const decoded = await client.embeddings.create({ model: LOCAL_MODEL, input: ['dog', 'cat'] });
    expect(floats.data).toHaveLength(2);
    const [dog, cat] = floats.data.map((item) => item.embedding);
    expect(dog?.length).toBeGreaterThan(0);
    expect(dog?.every(Number.isFinite)).toBe(true);
    expect(dog).not.toEqual(cat);
    // base64 carries float32: the decoded vectors are the float ones rounded to float32.
    expect(decoded.data.map((item) => item.embedding)).toEqual(
      floats.data.map((item) => item.embedding.map(Math.fround)),
    );
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
  });
});
