import { createOpenAI } from '@ai-sdk/openai';
import { embedMany, generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CHAT_MODEL,
  EMBEDDING_MODEL,
  GATEWAY_HOOK_TIMEOUT_MS,
  startClientGateway,
  UPSTREAM_CHAT_MODEL,
  type ClientGateway,
} from '../support/client-gateway.js';
import { callToolThenAnswer, scriptedEmbedding } from '../support/scripted-openai-upstream.js';

const ADMIN_API_KEY = 'sk-e2e-clients-ai-sdk-0123456789abcdefghij';

let gateway: ClientGateway;
let provider: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  gateway = await startClientGateway(ADMIN_API_KEY);
  provider = createOpenAI({ apiKey: ADMIN_API_KEY, baseURL: gateway.baseURL });
}, GATEWAY_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await gateway?.stop();
});
beforeEach(() => gateway.upstream.reset());

/** The AI SDK's `openai(id)` speaks the Responses API; `.chat(id)` is Chat Completions. */
const chatModel = () => provider.chat(CHAT_MODEL);

function weatherTool(calls: unknown[]) {
  return tool({
    description: 'The current temperature in a city, in degrees Celsius.',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push({ city });
      return { celsius: 21 };
    },
  });
}

const weatherAnswer = (result: string): string =>
  `It is ${(JSON.parse(result) as { celsius: number }).celsius} degrees in Paris.`;

/** What the AI SDK puts on the wire for weatherTool (zod → JSON Schema). */
const weatherToolOnTheWire = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current temperature in a city, in degrees Celsius.',
    parameters: expect.objectContaining({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    }),
  },
};

describe('the Vercel AI SDK through the gateway', () => {
  it('generateText runs a tool over several steps to a final answer', async () => {
    gateway.upstream.script(callToolThenAnswer('get_weather', { city: 'Paris' }, weatherAnswer));
    const calls: unknown[] = [];
    const result = await generateText({
      model: chatModel(),
      system: 'Use the tools.',
      prompt: 'How warm is it in Paris?',
      tools: { get_weather: weatherTool(calls) },
      stopWhen: stepCountIs(3),
      temperature: 0.3,
      presencePenalty: 0.5,
      seed: 11,
    });
    expect(result.text).toBe('It is 21 degrees in Paris.');
    expect(calls).toEqual([{ city: 'Paris' }]);
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]?.finishReason).toBe('tool-calls');
    expect(result.steps[0]?.toolCalls).toMatchObject([
      { toolCallId: 'call_get_weather_0', toolName: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(result.finishReason).toBe('stop');
    expect(result.totalUsage.outputTokens).toBeGreaterThan(0);

    const [first, second] = gateway.upstream.chatBodies();
    for (const body of [first, second]) {
      expect(body).toMatchObject({
        model: UPSTREAM_CHAT_MODEL,
        tools: [weatherToolOnTheWire],
        tool_choice: 'auto',
        temperature: 0.3,
        presence_penalty: 0.5,
        seed: 11,
      });
      expect(body?.stream).not.toBe(true);
    }
    expect((second?.messages as unknown[]).slice(-2)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_get_weather_0',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_get_weather_0', content: '{"celsius":21}' },
    ]);
  });

  it('streamText streams a tool call and the answer after it', async () => {
    gateway.upstream.script(callToolThenAnswer('get_weather', { city: 'Paris' }, weatherAnswer));
    const calls: unknown[] = [];
    const result = streamText({
      model: chatModel(),
      prompt: 'How warm is it in Paris?',
      tools: { get_weather: weatherTool(calls) },
      stopWhen: stepCountIs(3),
    });
    const parts: { type: string; [key: string]: unknown }[] = [];
    for await (const part of result.fullStream) parts.push(part);
    const errors = parts.filter((part) => part.type === 'error');
    expect(errors).toEqual([]);

    expect(await result.text).toBe('It is 21 degrees in Paris.');
    expect(calls).toEqual([{ city: 'Paris' }]);
    // The arguments arrived in many pieces and the SDK put them together.
    const inputDeltas = parts.filter((part) => part.type === 'tool-input-delta');
    expect(inputDeltas.length).toBeGreaterThan(2);
    expect(parts.find((part) => part.type === 'tool-call')).toMatchObject({
      toolCallId: 'call_get_weather_0',
      toolName: 'get_weather',
      input: { city: 'Paris' },
    });
    expect(parts.filter((part) => part.type === 'text-delta').length).toBeGreaterThan(1);
    expect((await result.totalUsage).outputTokens).toBeGreaterThan(0);

    const bodies = gateway.upstream.chatBodies();
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
        tools: [weatherToolOnTheWire],
      });
    }
  });

  it('generateObject returns the object the upstream wrote, asked for with json_schema', async () => {
    const recipe = { title: 'Pancakes', minutes: 20, ingredients: ['flour', 'milk', 'eggs'] };
    gateway.upstream.script((body) =>
      (body.response_format as { type?: string } | undefined)?.type === 'json_schema'
        ? { content: JSON.stringify(recipe) }
        : { content: 'not JSON' },
    );
    const schema = z.object({
      title: z.string(),
      minutes: z.number().int(),
      ingredients: z.array(z.string()),
    });
    const { object } = await generateObject({
      model: chatModel(),
      schema,
      schemaName: 'recipe',
      prompt: 'A quick breakfast recipe.',
    });
    expect(object).toEqual(recipe);
    expect(gateway.upstream.chatBodies()[0]?.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: {
        name: 'recipe',
        schema: expect.objectContaining({
          type: 'object',
          required: ['title', 'minutes', 'ingredients'],
        }),
      },
    });
  });

  it('generateObject on the built-in local model returns an object matching the schema', async () => {
    // No upstream: llama.cpp's grammar, built from the schema the AI SDK sends, shapes the output.
    const schema = z.object({ word: z.string(), noun: z.boolean() });
    const { object, finishReason } = await generateObject({
      model: provider.chat('tiny-wordnet'),
      schema,
      prompt: 'dog',
      maxOutputTokens: 48,
      temperature: 0,
    });
    expect(schema.safeParse(object).success).toBe(true);
    expect(finishReason).toBe('stop');
    expect(gateway.upstream.chatBodies()).toEqual([]);
  });

  it('embedMany returns the upstream vectors in order', async () => {
    const { embeddings, usage } = await embedMany({
      model: provider.embedding(EMBEDDING_MODEL),
      values: ['sunny day', 'rainy night', 'windy morning'],
    });
    expect(embeddings).toEqual([0, 1, 2].map((index) => scriptedEmbedding(index, 8)));
    expect(usage.tokens).toBeGreaterThan(0);
    expect(gateway.upstream.embeddingBodies()[0]).toMatchObject({
      input: ['sunny day', 'rainy night', 'windy morning'],
      encoding_format: 'float',
    });
  });
});
