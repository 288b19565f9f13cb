import { describe, expect, it } from 'vitest';
import type { AppError } from '../../../../src/domain/errors.js';
import type { ChatCompletionBody } from '../../../../src/domain/inference/chat-request.js';
import type { RouteCapabilities } from '../../../../src/domain/inference/capabilities.js';
import { ChatProvider, context, done, harness, params, principal, scripted } from './harness.js';

const ALL = { kind: 'all' } as const;
const answers = () => scripted({ type: 'text', text: 'ok' }, done());
const user = (content: unknown = 'hi') => ({ role: 'user', content });
const toolCall = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];

function body(fields: Record<string, unknown>): ChatCompletionBody {
  return { model: 'm', messages: [user()], ...fields } as ChatCompletionBody;
}

/** Sends the body through the service; resolves with the refusal, or undefined when admitted. */
async function refusal(
  chat: ChatCompletionBody,
  setup: { capabilities?: RouteCapabilities; rows?: ChatProvider[] } = {},
) {
  const rows = setup.rows ?? [new ChatProvider('a', answers(), ALL)];
  const h = harness({
    providers: rows,
    ...(setup.capabilities ? { capabilities: setup.capabilities } : {}),
  });
  const error = await h.service.complete(context(), params({ chat })).then(
    () => undefined,
    (e: unknown) => e as AppError,
  );
  if (error) {
    // A refused request reaches no upstream, reserves nothing and is not metered.
    expect(rows.flatMap((row) => row.calls)).toEqual([]);
    expect(h.store.reserved).toEqual([]);
    expect(h.usage).toEqual([]);
  }
  return error && { code: error.code, param: error.param, message: error.message };
}

describe('chat admission: rules between fields', () => {
  it.each([
    [
      'tool_calls on a user message',
      [{ ...user(), tool_calls: [toolCall] }],
      'messages[0].tool_calls',
    ],
    [
      'tool_call_id on a user message',
      [{ ...user(), tool_call_id: 'x' }],
      'messages[0].tool_call_id',
    ],
    ['a message without content', [{ role: 'user' }], 'messages[0].content'],
    [
      'a tool message without tool_call_id',
      [user(), { role: 'tool', content: 'r' }],
      'messages[1].tool_call_id',
    ],
    [
      'a tool message answering no earlier call',
      [
        user(),
        { role: 'assistant', tool_calls: [toolCall] },
        { role: 'tool', tool_call_id: 'call_2', content: 'r' },
      ],
      'messages[2].tool_call_id',
    ],
  ])('refuses %s, naming the field', async (_, messages, field) => {
    expect(await refusal(body({ messages }))).toMatchObject({
      code: 'VALIDATION_ERROR',
      param: field,
    });
  });

  it.each([
    ['top_logprobs without logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['tool_choice required without tools', { tool_choice: 'required' }, 'tool_choice'],
    [
      'tool_choice naming no tool',
      { tools, tool_choice: { type: 'function', function: { name: 'g' } } },
      'tool_choice.function.name',
    ],
  ])('refuses %s, naming the field', async (_, fields, field) => {
    expect(await refusal(body(fields))).toMatchObject({ code: 'VALIDATION_ERROR', param: field });
  });

  it('admits a full tool round trip and forwards the request as sent', async () => {
    const provider = new ChatProvider('a', answers(), ALL);
    const h = harness({ providers: [provider] });
    const chat = body({
      tools,
      tool_choice: 'auto',
      messages: [
        user(),
        { role: 'assistant', content: null, tool_calls: [toolCall] },
        { role: 'tool', tool_call_id: 'call_1', content: '42' },
      ],
    });
    await h.service.complete(context(), params({ chat }));
    expect(provider.calls[0]?.chat).toBe(chat);
  });
});

describe('chat admission: the route and its providers', () => {
  const image = [
    { type: 'text', text: 'what is this?' },
    { type: 'image_url', image_url: { url: 'https://x/y.png' } },
  ];
  const schema = { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } };

  it.each([
    ['tools', { tools: false }, body({ tools }), 'tools'],
    [
      'an assistant tool call in the history',
      { tools: false },
      body({ messages: [user(), { role: 'assistant', tool_calls: [toolCall] }] }),
      'messages[1].tool_calls',
    ],
    [
      'an image part',
      { vision: false },
      body({ messages: [user(image)] }),
      'messages[0].content[1]',
    ],
    ['json_schema', { jsonSchema: false }, body({ response_format: schema }), 'response_format'],
  ])(
    'refuses %s on a route declared without it, naming the field and the model',
    async (_, declared, chat, field) => {
      const error = await refusal(chat, {
        capabilities: { completions: true, embeddings: false, ...declared },
      });
      expect(error).toMatchObject({ code: 'VALIDATION_ERROR', param: field });
      expect(error?.message).toMatch(/model m$/);
      // The same request passes where the capability is not ruled out.
      expect(await refusal(chat)).toBeUndefined();
    },
  );

  it('refuses a prompt over the declared context window, naming messages and the window', async () => {
    const capabilities = { completions: true, embeddings: false, contextWindow: 20 };
    // 7 prompt tokens (the scripted count) + 16 max tokens > 20.
    const error = await refusal(body({}), { capabilities });
    expect(error).toMatchObject({ code: 'VALIDATION_ERROR', param: 'messages' });
    expect(error?.message).toMatch(/20-token context window of model m/);
    expect(
      await refusal(body({}), { capabilities: { ...capabilities, contextWindow: 23 } }),
    ).toBeUndefined();
  });

  it('refuses a /v1/completions prompt over the window, naming prompt', async () => {
    const h = harness({
      providers: [new ChatProvider('a', answers())],
      capabilities: { completions: true, embeddings: false, contextWindow: 10 },
    });
    const p = params({ endpoint: 'completions', input: { kind: 'text', prompt: 'hi' } });
    await expect(h.service.start(context(), p)).rejects.toMatchObject({ param: 'prompt' });
  });

  it('refuses what any row of the route cannot honour, fallbacks included', async () => {
    const rows = () => [new ChatProvider('a', answers(), ALL), new ChatProvider('b', answers())];
    expect(await refusal(body({ presence_penalty: 0.5 }), { rows: rows() })).toMatchObject({
      param: 'presence_penalty',
      message: 'presence_penalty is not supported by model m',
    });
    expect(await refusal(body({ messages: [user(image)] }), { rows: rows() })).toMatchObject({
      param: 'messages[0].content[1]',
    });
    // Values that ask for nothing more than a plain answer pass everywhere.
    expect(await refusal(body({ presence_penalty: 0, n: 1 }), { rows: rows() })).toBeUndefined();
  });

  it('refuses a credential without completions:write, and a model not declared for completions', async () => {
    const h = harness({
      providers: [new ChatProvider('a', answers())],
      capabilities: { completions: false, embeddings: true },
    });
    const viewer = { ...principal, scopes: new Set<never>() };
    await expect(h.service.start(context(undefined, viewer), params())).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(h.service.start(context(), params())).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      param: 'model',
    });
    expect(h.providers[0]?.calls).toEqual([]);
  });
});
