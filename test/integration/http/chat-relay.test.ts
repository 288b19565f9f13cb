import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';
import { createContractChecker } from '../../support/contract.js';
import {
  startFakeAnthropic,
  startFakeOpenAI,
  type FakeUpstream,
} from '../../support/fake-upstreams/index.js';

const OPENAI_KEY = 'sk-upstream-key-for-chat-relay';
const ANTHROPIC_KEY = 'sk-ant-key-for-chat-relay';
const contract = createContractChecker();

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
    headers: { ...AUTH, 'content-type': 'application/json', 'cache-control': 'no-cache' },
    payload: JSON.stringify(payload),
  });
}

/** What the fake upstream answers to `body` when a client asks it directly. */
async function askUpstream(body: unknown): Promise<string> {
  const res = await fetch(`${openai.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPENAI_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.text();
}

type Identity = { id: string; model: string; created: number };
const identityOf = (json: Identity): Identity => ({
  id: json.id,
  model: json.model,
  created: json.created,
});
/** The upstream's JSON with the gateway's identity in place of its own, key order kept. */
const restamped = (upstream: Record<string, unknown>, identity: Identity) =>
  JSON.stringify({ ...upstream, ...identity });

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city', 'days'],
      additionalProperties: false,
    },
    strict: true,
  },
};
const toolRequest = {
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'What is the weather in Oslo?' }],
  tools: [weatherTool],
  tool_choice: 'required',
};

describe('an OpenAI-compatible upstream, relayed', () => {
  it('returns a non-streamed tool call as the upstream sent it but for id, model, created', async () => {
    openai.reset();
    const res = await post(toolRequest);
    expect(res.statusCode).toBe(200);
    const json = res.json();
    contract.response('POST', '/v1/chat/completions', 200, json);
    expect(json.id).toMatch(/^chatcmpl-/);
    expect(json.model).toBe('gpt-4o');
    expect(json.choices[0].message.tool_calls[0].function.name).toBe('get_weather');
    expect(json.choices[0].finish_reason).toBe('tool_calls');

    expect(openai.requests).toHaveLength(1);
    const forwarded = openai.requests[0]?.body as Record<string, unknown>;
    // Not turned into a stream upstream: the client asked for one JSON body.
    expect(forwarded.stream).toBeUndefined();
    const upstream = JSON.parse(await askUpstream(forwarded)) as Record<string, unknown>;
    expect(res.body).toBe(restamped(upstream, identityOf(json)));
  });

  it('streams a tool call split across many chunks in the same chunks', async () => {
    openai.reset();
    const request = { ...toolRequest, stream: true, stream_options: { include_usage: true } };
    const res = await post(request);
    expect(res.statusCode).toBe(200);
    const events = parseSse(res.body);
    expect(events.pop()).toBe('[DONE]');
    const chunks = events.map((event) => JSON.parse(event) as Identity);
    for (const chunk of chunks) contract.schema('ChatCompletionChunk', chunk);
    const identity = identityOf(chunks[0] as Identity);
    expect(identity.model).toBe('gpt-4o');

    const argumentChunks = chunks.filter((chunk) => JSON.stringify(chunk).includes('"arguments"'));
    expect(argumentChunks.length).toBeGreaterThan(3);

    const forwarded = openai.requests[0]?.body as Record<string, unknown>;
    const upstream = parseSse(await askUpstream(forwarded));
    expect(upstream.pop()).toBe('[DONE]');
    expect(events).toEqual(
      upstream.map((event) => restamped(JSON.parse(event) as Record<string, unknown>, identity)),
    );
  });

  it('leaves out the usage chunk the client did not ask for', async () => {
    openai.reset();
    const res = await post({ ...toolRequest, stream: true });
    const events = parseSse(res.body);
    expect(events.pop()).toBe('[DONE]');
    const chunks = events.map((event) => JSON.parse(event) as { choices: unknown[] });
    expect(chunks.every((chunk) => chunk.choices.length > 0)).toBe(true);
    expect(JSON.stringify(chunks)).not.toContain('"total_tokens"');
    // Still metered: the gateway asked the upstream for usage on the client's behalf.
    await t.app.flushUsage();
    const record = await t.app.storage.usage.findByRequestId(String(res.headers['x-request-id']));
    expect(record?.completionTokens).toBeGreaterThan(0);
  });
});

describe('an answer sent back as clients send it', () => {
  // The openai SDK's manual loop sends `choice.message` back with OpenAI's `annotations: []`;
  // LangChain (and vLLM/Ollama answers) give an assistant turn of tool calls `content: ""`.
  const history = [
    { role: 'user', content: 'What is the weather in Oslo?' },
    {
      role: 'assistant',
      content: '',
      refusal: null,
      annotations: [],
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Oslo","days":1}' },
        },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'Sunny, 21 °C' },
  ];

  it('is forwarded to an OpenAI-compatible upstream as sent', async () => {
    openai.reset();
    const res = await post({ model: 'gpt-4o', messages: history, tools: [weatherTool] });
    expect(res.statusCode).toBe(200);
    expect(openai.requests[0]?.body?.messages).toEqual(history);
  });

  it('is translated for Anthropic, the annotations left out', async () => {
    anthropic.reset();
    const res = await post({ model: 'claude-3-5-sonnet', messages: history, tools: [weatherTool] });
    expect(res.statusCode).toBe(200);
    const sent = anthropic.requests[0]?.body?.messages as { role: string; content: unknown }[];
    expect(sent[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo', days: 1 } },
      ],
    });
  });

  it.each([
    ['an empty user message', [{ role: 'user', content: '' }], 'messages[0].content'],
    [
      'annotations on a user message',
      [{ role: 'user', content: 'Hi', annotations: [] }],
      'messages[0].annotations',
    ],
  ])('refuses %s, naming the field', async (_name, messages, field) => {
    openai.reset();
    const res = await post({ model: 'gpt-4o', messages });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.param).toBe(field);
    expect(openai.requests).toHaveLength(0);
  });
});

describe('content as an array of text parts', () => {
  const parts = [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }];

  it.each([
    ['the local model', 'tiny-wordnet'],
    ['an OpenAI-compatible upstream', 'gpt-4o'],
    ['Anthropic', 'claude-3-5-sonnet'],
  ])('works on %s, streamed and not', async (_name, model) => {
    const whole = await post({ model, messages: parts, max_tokens: 8 });
    expect(whole.statusCode).toBe(200);
    contract.response('POST', '/v1/chat/completions', 200, whole.json());
    expect(whole.json().choices[0].message.role).toBe('assistant');
    expect(typeof whole.json().choices[0].message.content).toBe('string');

    const streamed = await post({ model, messages: parts, max_tokens: 8, stream: true });
    expect(streamed.statusCode).toBe(200);
    const events = parseSse(streamed.body);
    expect(events.pop()).toBe('[DONE]');
    for (const event of events) contract.schema('ChatCompletionChunk', JSON.parse(event));
  });

  it('reaches the upstreams as parts (OpenAI) and as text blocks (Anthropic)', async () => {
    openai.reset();
    anthropic.reset();
    await post({ model: 'gpt-4o', messages: parts, max_tokens: 8 });
    expect(openai.requests[0]?.body?.messages).toEqual(parts);
    await post({ model: 'claude-3-5-sonnet', messages: parts, max_tokens: 8 });
    const sent = anthropic.requests[0]?.body?.messages as { content: unknown }[];
    expect(JSON.stringify(sent)).toContain('"Hi"');
  });
});

describe('the local model', () => {
  it('still answers a plain chat', async () => {
    const res = await post({
      model: 'tiny-wordnet',
      messages: [{ role: 'user', content: 'Tell me about the weather and the rivers.' }],
      max_tokens: 12,
      temperature: 0,
    });
    expect(res.statusCode).toBe(200);
    const json = res.json();
    contract.response('POST', '/v1/chat/completions', 200, json);
    expect(json.choices[0].message).toMatchObject({ role: 'assistant', refusal: null });
    expect(json.choices[0].message.tool_calls).toBeUndefined();
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens);
  });
});
