/**
 * The local provider's chat features on the bundled model, offline: response_format and tools
 * through llama.cpp's grammars, OpenAI's penalties and logit_bias through its sampler, and a chat
 * reply that is never empty. The model is tiny and writes dictionary entries, so nothing here
 * relies on what it means, only on what the grammar and the sampler guarantee; each property is
 * checked over several seeds.
 */
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type { GenerationRequest, ModelProvider } from '../../../src/domain/ports.js';
import { createLocalProvider } from '../../../src/providers/local/index.js';
import { loadLlama } from '../../../src/providers/local/llama-runtime.js';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient } from '../../support/client.js';
import { BUNDLED_MODEL, BUNDLED_MODEL_PATH } from '../../support/local-model.js';
import { chatBodyRequest, collect, expectAppError, type Collected } from './helpers.js';

const MODEL = BUNDLED_MODEL;
const SEEDS = [1, 2, 3, 4, 5, 6];

let provider: ModelProvider;

beforeAll(async () => {
  provider = await createLocalProvider({
    models: [{ name: MODEL, path: BUNDLED_MODEL_PATH, threads: 1, contexts: 1 }],
    logger: silentLogger,
  });
});
afterAll(async () => {
  await provider?.close();
});

type Body = Parameters<typeof chatBodyRequest>[0];

function request(body: Body, overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return chatBodyRequest(body, { model: MODEL, maxTokens: 96, temperature: 0.7, ...overrides });
}

async function run(body: Body, overrides: Partial<GenerationRequest> = {}): Promise<Collected> {
  const result = await collect(provider.generate(request(body, overrides)));
  if (result.error) throw result.error;
  return result;
}

const ajv = new Ajv({ strict: false });
const textOf = (result: Collected) => result.texts.join('');

/** The calls of a reply, their streamed pieces joined; only the first piece has id and name. */
function callsOf(result: Collected): { id?: string; name?: string; arguments: string }[] {
  const calls: { id?: string; name?: string; arguments: string }[] = [];
  for (const piece of result.toolCalls) {
    const call = calls[piece.index];
    if (call) {
      expect(piece.id).toBeUndefined();
      call.arguments += piece.arguments;
    } else {
      calls[piece.index] = { id: piece.id, name: piece.name, arguments: piece.arguments };
    }
  }
  return calls;
}

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather now',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
const DEFINE = {
  type: 'function' as const,
  function: {
    name: 'define',
    parameters: {
      type: 'object',
      properties: { word: { type: 'string', maxLength: 10 }, plural: { type: 'boolean' } },
    },
  },
};
const ASK = [{ role: 'user' as const, content: 'river (noun):' }];

describe('response_format on the local model', () => {
  const schema = {
    type: 'object',
    properties: {
      word: { type: 'string', maxLength: 10 },
      kind: { enum: ['noun', 'verb', 'adjective'] },
      senses: { type: 'integer' },
      common: { type: 'boolean' },
      note: { type: ['string', 'null'], maxLength: 8 },
    },
    required: ['word', 'kind', 'senses', 'common'],
    additionalProperties: false,
  };

  it('json_schema: the content parses and matches the schema, for every seed', async () => {
    const validate = ajv.compile(schema);
    for (const seed of SEEDS) {
      const result = await run(
        {
          messages: ASK,
          response_format: { type: 'json_schema', json_schema: { name: 'entry', schema } },
        },
        { seed, temperature: 1 },
      );
      expect(result.done?.finishReason, `seed ${seed}: ${textOf(result)}`).toBe('stop');
      const parsed: unknown = JSON.parse(textOf(result));
      expect(validate(parsed), `seed ${seed}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      expect(result.toolCalls).toEqual([]);
    }
  });

  it('json_object: the content is a JSON object', async () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const result = await run(
        { messages: ASK, response_format: { type: 'json_object' } },
        // Any object may nest without end, so only the budget ends some samples.
        { seed, maxTokens: 100 },
      );
      if (result.done?.finishReason === 'length') continue;
      const parsed: unknown = JSON.parse(textOf(result));
      expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
    }
  });

  it('ends with length, not broken JSON called complete, when max_tokens runs out', async () => {
    const result = await run(
      {
        messages: ASK,
        response_format: { type: 'json_schema', json_schema: { name: 'entry', schema } },
      },
      { seed: 1, maxTokens: 4 },
    );
    expect(result.done).toMatchObject({ finishReason: 'length', usage: { completionTokens: 4 } });
    expect(() => JSON.parse(textOf(result))).toThrow();
  });

  it('refuses by name a schema keyword the grammar cannot enforce, before any token', async () => {
    const result = await collect(
      provider.generate(
        request({
          messages: ASK,
          response_format: {
            type: 'json_schema',
            json_schema: {
              name: 'entry',
              schema: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } },
            },
          },
        }),
      ),
    );
    const error = expectAppError(result.error, 'VALIDATION_ERROR');
    expect(error.param).toBe('response_format.json_schema.schema.properties.n.minimum');
    expect(result.done).toBeUndefined();
  });
});

describe('tools on the local model', () => {
  const validateWeather = ajv.compile(WEATHER.function.parameters);

  it('tool_choice required: always a call whose arguments match the tool schema', async () => {
    for (const seed of SEEDS) {
      const result = await run(
        { messages: ASK, tools: [WEATHER, DEFINE], tool_choice: 'required' },
        { seed, temperature: 1 },
      );
      expect(result.done?.finishReason, `seed ${seed}`).toBe('tool_calls');
      expect(result.texts).toEqual([]);
      expect(result.toolCalls.every((piece) => piece.index === 0)).toBe(true);
      const calls = callsOf(result);
      expect(calls).toHaveLength(1);
      const [call] = calls;
      expect(call?.id).toMatch(/^call_/);
      const tool = [WEATHER, DEFINE].find((t) => t.function.name === call?.name);
      expect(tool, `seed ${seed}: ${call?.name}`).toBeDefined();
      const validate = ajv.compile(tool!.function.parameters);
      const args: unknown = JSON.parse(call!.arguments);
      expect(validate(args), `seed ${seed}: ${call?.arguments}`).toBe(true);
    }
  });

  it('a named tool_choice calls that tool', async () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const result = await run(
        {
          messages: ASK,
          tools: [WEATHER, DEFINE],
          tool_choice: { type: 'function', function: { name: 'get_weather' } },
        },
        { seed },
      );
      expect(result.done?.finishReason).toBe('tool_calls');
      const calls = callsOf(result);
      expect(calls.map((call) => call.name)).toEqual(['get_weather']);
      expect(validateWeather(JSON.parse(calls[0]!.arguments))).toBe(true);
    }
  });

  it('tool_choice none: text, never a call', async () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const result = await run({ messages: ASK, tools: [WEATHER], tool_choice: 'none' }, { seed });
      expect(result.toolCalls).toEqual([]);
      expect(result.done?.finishReason).not.toBe('tool_calls');
      expect(textOf(result).trim()).not.toBe('');
    }
  });

  it('tool_choice auto: either text or a valid call, and finish_reason says which', async () => {
    for (const seed of SEEDS) {
      const result = await run({ messages: ASK, tools: [WEATHER] }, { seed });
      if (result.toolCalls.length > 0) {
        expect(result.done?.finishReason).toBe('tool_calls');
        expect(validateWeather(JSON.parse(callsOf(result)[0]!.arguments))).toBe(true);
      } else {
        expect(result.done?.finishReason).not.toBe('tool_calls');
        expect(textOf(result).trim()).not.toBe('');
        expect(textOf(result).trimStart().startsWith('{')).toBe(false);
      }
    }
  });

  it('reads a whole tool round trip: the call and its result are in the prompt', async () => {
    const call = { id: 'call_1', type: 'function' as const };
    const first = await run({ messages: ASK, tools: [WEATHER] });
    const roundTrip = await run({
      messages: [
        ...ASK,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { ...call, function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"c"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'rain, 4 degrees' },
      ],
      tools: [WEATHER],
    });
    // The call (name and arguments) and the result were read: the prompt grew by them.
    const grown = roundTrip.done!.usage.promptTokens - first.done!.usage.promptTokens;
    const callTokens = provider.countPromptTokens(
      {
        kind: 'text',
        prompt:
          '{"name":"get_weather","arguments":{"city":"Oslo","unit":"c"}}\nget_weather returned: rain, 4 degrees',
      },
      MODEL,
    );
    expect(Math.abs(grown - callTokens)).toBeLessThanOrEqual(3);
  });

  it('refuses tool definitions that do not fit the context window, naming tools', async () => {
    const big = {
      type: 'function' as const,
      function: {
        name: 'lookup',
        description: 'a long description of a tool '.repeat(30),
        parameters: { type: 'object', properties: {} },
      },
    };
    const result = await collect(provider.generate(request({ messages: ASK, tools: [big] })));
    const error = expectAppError(result.error, 'VALIDATION_ERROR');
    expect(error.param).toBe('tools');
    expect(error.details[0]?.issue).toContain('context window of 128 tokens');
  });

  it('refuses tool parameters the grammar cannot enforce, naming the keyword', async () => {
    const tool = {
      type: 'function' as const,
      function: {
        name: 'f',
        parameters: { type: 'object', properties: { id: { type: 'string', pattern: '^a' } } },
      },
    };
    const result = await collect(
      provider.generate(request({ messages: ASK, tools: [DEFINE, tool], tool_choice: 'required' })),
    );
    expect(expectAppError(result.error, 'VALIDATION_ERROR').param).toBe(
      'tools[1].function.parameters.properties.id.pattern',
    );
  });
});

describe('sampling fields on the local model', () => {
  it('presence and frequency penalties reach the sampler: they change what is sampled', async () => {
    const base = { messages: ASK };
    const settings = { temperature: 0, maxTokens: 40 };
    const plain = textOf(await run(base, settings));
    const penalised = textOf(
      await run({ ...base, presence_penalty: 2, frequency_penalty: 2 }, settings),
    );
    const zero = textOf(
      await run({ ...base, presence_penalty: 0, frequency_penalty: 0 }, settings),
    );
    expect(zero).toBe(plain);
    expect(penalised).not.toBe(plain);
  });

  it('logit_bias reaches the sampler: +100 picks a token, -100 keeps tokens out', async () => {
    const llama = await loadLlama(silentLogger);
    const model = await llama.loadModel({ modelPath: BUNDLED_MODEL_PATH });
    try {
      const settings = { temperature: 0, maxTokens: 12 };
      const [water] = model.tokenize(' water');
      const only = await run({ messages: ASK, logit_bias: { [String(water)]: 100 } }, settings);
      expect(textOf(only)).toBe(' water'.repeat(12).trimStart());

      const greedy = textOf(await run({ messages: ASK }, settings));
      const banned = new Set([...model.tokenize(greedy), ...model.tokenize(' ' + greedy)]);
      const bias = Object.fromEntries([...banned].map((token) => [String(token), -100]));
      const without = textOf(await run({ messages: ASK, logit_bias: bias }, settings));
      expect(without).not.toBe(greedy);
      for (const token of model.tokenize(without)) expect(banned.has(token)).toBe(false);
    } finally {
      await model.dispose();
    }
  });

  it('refuses a logit_bias id the model does not have, or one that ends generation', async () => {
    const unknown = await collect(
      provider.generate(request({ messages: ASK, logit_bias: { '999999': -100 } })),
    );
    expect(expectAppError(unknown.error, 'VALIDATION_ERROR').param).toBe('logit_bias.999999');
    const eos = await collect(
      provider.generate(request({ messages: ASK, logit_bias: { '2': -100 } })),
    );
    expect(expectAppError(eos.error, 'VALIDATION_ERROR').param).toBe('logit_bias.2');
  });
});

describe('a chat reply from the local model is never empty', () => {
  // Before the reply had to start with a visible character, seeds 1 to 150 at temperature 0.7
  // answered each of these with nothing (end of text first) 2 to 20 times.
  const prompts = ['Hello!', 'Hello', 'Hi!', 'Thanks.', 'Say something nice'];

  it('answers with visible text for every seed, and without one', { timeout: 60_000 }, async () => {
    for (const content of prompts) {
      const empty: (number | undefined)[] = [];
      for (const seed of [undefined, ...Array.from({ length: 150 }, (_, i) => i + 1)]) {
        const result = await run(
          { messages: [{ role: 'user', content }] },
          { maxTokens: 8, ...(seed === undefined ? {} : { seed }) },
        );
        if (textOf(result).trim() === '' || result.done?.usage.completionTokens === 0) {
          empty.push(seed);
        }
      }
      expect(empty, `${JSON.stringify(content)}: the seeds answered with nothing`).toEqual([]);
    }
  });
});

describe('the local model through POST /v1/chat/completions', () => {
  let t: TestApp;
  let api: ReturnType<typeof apiClient>;
  const token = AUTH.authorization.slice('Bearer '.length);
  beforeAll(async () => {
    t = await startTestApp({ RESPONSE_CACHE_TTL_SECONDS: '0' });
    api = apiClient(t.app.http);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a forced tool call as OpenAI does', async () => {
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: { model: MODEL, messages: ASK, tools: [WEATHER], tool_choice: 'required', seed: 1 },
    });
    expect(res.status, res.body).toBe(200);
    const choice = res.json<{
      choices: {
        finish_reason: string;
        message: {
          content: string | null;
          tool_calls: { id: string; function: { name: string; arguments: string } }[];
        };
      }[];
    }>().choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.tool_calls).toHaveLength(1);
    expect(choice?.message.tool_calls[0]?.function.name).toBe('get_weather');
    expect(
      ajv.validate(
        WEATHER.function.parameters,
        JSON.parse(choice!.message.tool_calls[0]!.function.arguments),
      ),
    ).toBe(true);
  });

  it('streams a forced tool call as delta.tool_calls, then finish_reason tool_calls', async () => {
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: {
        model: MODEL,
        messages: ASK,
        tools: [WEATHER],
        tool_choice: 'required',
        stream: true,
        seed: 2,
      },
    });
    expect(res.status, res.body).toBe(200);
    const chunks = res.body
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map(
        (line) =>
          JSON.parse(line.slice('data: '.length)) as {
            choices: {
              delta: {
                tool_calls?: {
                  index: number;
                  id?: string;
                  function: { name?: string; arguments: string };
                }[];
              };
              finish_reason: string | null;
            }[];
          },
      );
    const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/) });
    expect(calls[0]?.function.name).toBe('get_weather');
    const args = calls.map((call) => call.function.arguments).join('');
    expect(ajv.validate(WEATHER.function.parameters, JSON.parse(args))).toBe(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('answers json_schema with content that matches it', async () => {
    const schema = {
      type: 'object',
      properties: { kind: { enum: ['noun', 'verb'] }, ok: { type: 'boolean' } },
    };
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: {
        model: MODEL,
        messages: ASK,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } },
      },
    });
    expect(res.status, res.body).toBe(200);
    const content = res.json<{ choices: { message: { content: string } }[] }>().choices[0]?.message
      .content;
    expect(ajv.validate(schema, JSON.parse(content ?? ''))).toBe(true);
  });

  it('takes parallel_tool_calls, penalties, logit_bias and seed rather than refusing them', async () => {
    const res = await api('POST', '/v1/chat/completions', {
      token,
      body: {
        model: MODEL,
        messages: ASK,
        tools: [WEATHER],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        presence_penalty: 0.5,
        frequency_penalty: 0.5,
        logit_bias: { '100': 1 },
        seed: 3,
      },
    });
    expect(res.status, res.body).toBe(200);
    const message = res.json<{ choices: { message: { tool_calls?: unknown[] } }[] }>().choices[0]
      ?.message;
    expect((message?.tool_calls ?? []).length).toBeLessThanOrEqual(1);
  });

  it('refuses an image and logprobs by name, with the model', async () => {
    const image = await api('POST', '/v1/chat/completions', {
      token,
      body: {
        model: MODEL,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            ],
          },
        ],
      },
    });
    expect(image.status).toBe(422);
    const error = image.json<{ error: { param: string; message: string } }>().error;
    expect(error.param).toBe('messages[0].content[1]');
    expect(error.message).toContain(MODEL);
    const logprobs = await api('POST', '/v1/chat/completions', {
      token,
      body: { model: MODEL, messages: ASK, logprobs: true },
    });
    expect(logprobs.status).toBe(422);
    expect(logprobs.json<{ error: { param: string } }>().error.param).toBe('logprobs');
  });
});
