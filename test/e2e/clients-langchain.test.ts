import type { AIMessageChunk } from '@langchain/core/messages';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
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
import {
  callToolThenAnswer,
  scriptedEmbedding,
  type ChatScript,
} from '../support/scripted-openai-upstream.js';

const ADMIN_API_KEY = 'sk-e2e-clients-langchain-0123456789abcdefgh';

let gateway: ClientGateway;

beforeAll(async () => {
  gateway = await startClientGateway(ADMIN_API_KEY);
}, GATEWAY_HOOK_TIMEOUT_MS);
afterAll(async () => {
  await gateway?.stop();
});
beforeEach(() => gateway.upstream.reset());

const chat = (fields: { streaming?: boolean } = {}) =>
  new ChatOpenAI({
    model: CHAT_MODEL,
    apiKey: ADMIN_API_KEY,
    configuration: { baseURL: gateway.baseURL },
    maxRetries: 0,
    temperature: 0,
    ...fields,
  });

const getWeather = tool(async ({ city }) => JSON.stringify({ city, celsius: 21 }), {
  name: 'get_weather',
  description: 'The current temperature in a city, in degrees Celsius.',
  schema: z.object({ city: z.string() }),
});

const weatherAnswer = (result: string): string =>
  `It is ${(JSON.parse(result) as { celsius: number }).celsius} degrees in Paris.`;

const toolsOnTheWire = [
  {
    type: 'function',
    function: expect.objectContaining({
      name: 'get_weather',
      description: 'The current temperature in a city, in degrees Celsius.',
      parameters: expect.objectContaining({
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
      }),
    }),
  },
];

describe('LangChain ChatOpenAI through the gateway', () => {
  it('bindTools().invoke() returns the tool call, and the tool result gets the answer', async () => {
    gateway.upstream.script(callToolThenAnswer('get_weather', { city: 'Paris' }, weatherAnswer));
    const model = chat().bindTools([getWeather]);
    const question = new HumanMessage('How warm is it in Paris?');
    const called = await model.invoke([question]);
    expect(called.tool_calls).toEqual([
      { type: 'tool_call', id: 'call_get_weather_0', name: 'get_weather', args: { city: 'Paris' } },
    ]);

    const result = await getWeather.invoke(called.tool_calls![0]!);
    expect(result).toBeInstanceOf(ToolMessage);
    const answered = await model.invoke([question, called, result]);
    expect(answered.content).toBe('It is 21 degrees in Paris.');
    expect(answered.tool_calls).toEqual([]);
    expect(answered.usage_metadata?.output_tokens).toBeGreaterThan(0);

    const [first, second] = gateway.upstream.chatBodies();
    expect(first).toMatchObject({ model: UPSTREAM_CHAT_MODEL, tools: toolsOnTheWire });
    expect(first?.stream).not.toBe(true);
    expect((second?.messages as unknown[]).slice(-2)).toMatchObject([
      {
        role: 'assistant',
        tool_calls: [
          {
            id: 'call_get_weather_0',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      {
        role: 'tool',
        tool_call_id: 'call_get_weather_0',
        content: '{"city":"Paris","celsius":21}',
      },
    ]);
  });

  it('.stream() streams text, and tool-call chunks that add up to the call', async () => {
    gateway.upstream.script(() => ({ content: 'Paris is in France and is warm today.' }));
    let text = '';
    let pieces = 0;
    for await (const chunk of await chat().stream('Where is Paris?')) {
      text += typeof chunk.content === 'string' ? chunk.content : '';
      pieces += 1;
    }
    expect(text).toBe('Paris is in France and is warm today.');
    expect(pieces).toBeGreaterThan(3);

    gateway.upstream.script(() => ({
      toolCalls: [{ name: 'get_weather', arguments: JSON.stringify({ city: 'Reykjavik' }) }],
    }));
    let merged: AIMessageChunk | undefined;
    let chunks = 0;
    const stream = await chat()
      .bindTools([getWeather], { tool_choice: 'get_weather' })
      .stream('How cold is it in Reykjavik?');
    for await (const chunk of stream) {
      merged = merged ? merged.concat(chunk) : chunk;
      chunks += 1;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(merged?.tool_calls).toEqual([
      {
        type: 'tool_call',
        id: 'call_get_weather_0',
        name: 'get_weather',
        args: { city: 'Reykjavik' },
      },
    ]);

    const [textBody, toolBody] = gateway.upstream.chatBodies();
    expect(textBody).toMatchObject({ model: UPSTREAM_CHAT_MODEL, stream: true });
    expect(toolBody).toMatchObject({
      stream: true,
      tools: toolsOnTheWire,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
  });

  it('withStructuredOutput() returns the parsed object', async () => {
    const city = { name: 'Paris', country: 'France', population: 2_100_000 };
    const answer: ChatScript = (body) => {
      const format = body.response_format as { type?: string } | undefined;
      if (format?.type === 'json_schema') return { content: JSON.stringify(city) };
      // The function-calling method: the schema arrives as a forced tool.
      const [first] = (body.tools ?? []) as { function: { name: string } }[];
      if (first)
        return { toolCalls: [{ name: first.function.name, arguments: JSON.stringify(city) }] };
      return { content: 'not JSON' };
    };
    gateway.upstream.script(answer);
    const schema = z.object({ name: z.string(), country: z.string(), population: z.number() });
    const structured = chat().withStructuredOutput(schema, { name: 'city' });
    expect(await structured.invoke('Describe Paris.')).toEqual(city);
    const sent = gateway.upstream.chatBodies()[0];
    expect(sent?.response_format ?? sent?.tools).toBeDefined();
  });

  it('OpenAIEmbeddings embeds documents and a query', async () => {
    const embeddings = new OpenAIEmbeddings({
      model: EMBEDDING_MODEL,
      apiKey: ADMIN_API_KEY,
      configuration: { baseURL: gateway.baseURL },
      maxRetries: 0,
    });
    expect(await embeddings.embedDocuments(['sunny day', 'rainy night'])).toEqual([
      scriptedEmbedding(0, 8),
      scriptedEmbedding(1, 8),
    ]);
    expect(await embeddings.embedQuery('windy morning')).toEqual(scriptedEmbedding(0, 8));
    expect(gateway.upstream.embeddingBodies()[0]).toMatchObject({
      input: ['sunny day', 'rainy night'],
    });
  });
});
