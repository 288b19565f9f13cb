import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';
import {
  startFakeAnthropic,
  startFakeOpenAI,
  type FakeUpstream,
} from '../../support/fake-upstreams/index.js';

const OPENAI_KEY = 'sk-upstream-key-for-chat-bad-input';
const ANTHROPIC_KEY = 'sk-ant-key-for-chat-bad-input';

let t: TestApp;
let openai: FakeUpstream;
let anthropic: FakeUpstream;
beforeAll(async () => {
  openai = await startFakeOpenAI({ apiKey: OPENAI_KEY });
  anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY });
  t = await startTestApp({
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: OPENAI_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
  });
});
afterAll(async () => {
  await t?.close();
  await openai?.close();
  await anthropic?.close();
});

async function post(payload: unknown) {
  return t.app.http.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { ...AUTH, 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });
}

async function usageRows(): Promise<number> {
  await t.app.flushUsage();
  return (await t.app.storage.usage.list({ limit: 100 })).length;
}

const user = { role: 'user', content: 'What is the weather in Oslo?' };
const tool = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
  },
};
const called = {
  role: 'assistant',
  content: null,
  tool_calls: [
    { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
  ],
};
/** On an OpenAI-compatible route, which would forward anything that got past validation. */
const base = { model: 'gpt-4o', messages: [user], max_tokens: 8 };
const image = (url: string) => ({
  role: 'user',
  content: [
    { type: 'text', text: 'What is in this picture?' },
    { type: 'image_url', image_url: { url } },
  ],
});

/** Refusals of the request itself, before anything is reserved, sent or metered. */
const invalid: [string, unknown, string][] = [
  [
    'a tool without a name',
    { ...base, tools: [{ type: 'function', function: { description: 'x' } }] },
    'tools[0].function.name',
  ],
  [
    'a tool with a name that is not a function name',
    { ...base, tools: [{ type: 'function', function: { name: 'get weather!' } }] },
    'tools[0].function.name',
  ],
  [
    'a tool message without tool_call_id',
    { ...base, tools: [tool], messages: [user, called, { role: 'tool', content: '7°C' }] },
    'messages[2].tool_call_id',
  ],
  [
    'a tool message answering a call no assistant made',
    {
      ...base,
      tools: [tool],
      messages: [user, called, { role: 'tool', tool_call_id: 'call_9', content: '7°C' }],
    },
    'messages[2].tool_call_id',
  ],
  [
    'a json_schema that is not a JSON Schema object',
    {
      ...base,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: 'string' } },
    },
    'response_format.json_schema.schema',
  ],
  [
    'a json_schema response_format without json_schema',
    { ...base, response_format: { type: 'json_schema' } },
    'response_format.json_schema',
  ],
  // Content is a string, parts or null: the error inside the parts form is the one named.
  [
    'an image URL over http:',
    { ...base, messages: [image('http://example.com/a.png')] },
    'messages[0].content[1].image_url.url',
  ],
  [
    'an image data URL that is not an image',
    { ...base, messages: [image('data:text/html;base64,PGgxPg==')] },
    'messages[0].content[1].image_url.url',
  ],
  ['n over the bound', { ...base, n: 9 }, 'n'],
  ['top_logprobs over the bound', { ...base, logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
  ['top_logprobs without logprobs', { ...base, top_logprobs: 3 }, 'top_logprobs'],
  ['a penalty over the bound', { ...base, presence_penalty: 2.5 }, 'presence_penalty'],
  ['a logit_bias over the bound', { ...base, logit_bias: { '50256': 101 } }, 'logit_bias[50256]'],
  [
    'tool_choice naming no tool',
    { ...base, tools: [tool], tool_choice: { type: 'function', function: { name: 'other' } } },
    'tool_choice.function.name',
  ],
  ['tool_choice required without tools', { ...base, tool_choice: 'required' }, 'tool_choice'],
  [
    'tool_calls on a user message',
    { ...base, messages: [{ ...user, tool_calls: called.tool_calls }] },
    'messages[0].tool_calls',
  ],
  ['an unknown field', { ...base, frobnicate: true }, 'frobnicate'],
  [
    'an unknown field in a tool',
    { ...base, tools: [{ ...tool, colour: 'red' }] },
    'tools[0].colour',
  ],
];

/** Fields a model's provider cannot honour: refused by name, naming the model too. */
const unsupported: [string, unknown, string, string][] = [
  [
    'logprobs on the local model',
    { ...base, model: 'tiny-wordnet', logprobs: true },
    'logprobs',
    'tiny-wordnet',
  ],
  [
    'an image on the local (text-only) model',
    { ...base, model: 'tiny-wordnet', messages: [image('https://example.com/a.png')] },
    'messages[0].content[1]',
    'tiny-wordnet',
  ],
  [
    'logit_bias on Anthropic',
    { ...base, model: 'claude-3-5-sonnet', logit_bias: { '50256': -100 } },
    'logit_bias',
    'claude-3-5-sonnet',
  ],
  ['n > 1 on Anthropic', { ...base, model: 'claude-3-5-sonnet', n: 2 }, 'n', 'claude-3-5-sonnet'],
  [
    'a penalty on Anthropic',
    { ...base, model: 'claude-3-5-sonnet', frequency_penalty: 0.5 },
    'frequency_penalty',
    'claude-3-5-sonnet',
  ],
];

describe('chat input that cannot be served is a 422 naming the field', () => {
  async function expectRefused(payload: unknown, field: string) {
    const before = await usageRows();
    const sent = openai.requests.length + anthropic.requests.length;
    const res = await post(payload);
    expect(res.statusCode, res.body).toBe(422);
    const error = res.json().error as {
      code: string;
      param: string;
      message: string;
      details: { field: string; issue: string }[];
    };
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.param).toBe(field);
    expect(error.details[0]?.field).toBe(field);
    expect(error.details[0]?.issue.length).toBeGreaterThan(0);
    // Nothing reached an upstream and nothing was metered.
    expect(openai.requests.length + anthropic.requests.length).toBe(sent);
    expect(await usageRows()).toBe(before);
    return error;
  }

  it.each(invalid)('%s', async (_name, payload, field) => {
    await expectRefused(payload, field);
  });

  it.each(invalid)('%s, streamed', async (_name, payload, field) => {
    await expectRefused({ ...(payload as object), stream: true }, field);
  });

  it.each(unsupported)('%s', async (_name, payload, field, model) => {
    const error = await expectRefused(payload, field);
    expect(error.message).toContain(model);
    expect(error.details[0]?.issue).toContain(model);
  });

  it('a temperature over 1 to Anthropic, which takes 0 to 1 (never clamped)', async () => {
    await expectRefused({ ...base, model: 'claude-3-5-sonnet', temperature: 1.5 }, 'temperature');
  });

  it('serves the same fields where the route can honour them', async () => {
    const sent = openai.requests.length;
    const res = await post({
      ...base,
      logprobs: true,
      top_logprobs: 2,
      n: 2,
      logit_bias: { '1': 5 },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(openai.requests.length).toBe(sent + 1);
    expect(openai.requests.at(-1)?.body).toMatchObject({ logprobs: true, top_logprobs: 2, n: 2 });
  });
});
