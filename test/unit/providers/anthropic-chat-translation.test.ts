import { describe, expect, it } from 'vitest';
import type {
  ChatCompletionBody,
  ChatRequestMessage,
} from '../../../src/domain/inference/chat-request.js';
import { unsupportedChatField } from '../../../src/domain/inference/chat-support.js';
import { toAnthropicChat } from '../../../src/providers/anthropic/chat-messages.js';
import { JSON_OBJECT_TOOL, toAnthropicTools } from '../../../src/providers/anthropic/chat-tools.js';
import {
  ANTHROPIC_CHAT_SUPPORT,
  PLACEHOLDER_TURN,
} from '../../../src/providers/anthropic/index.js';

const body = (fields: Partial<ChatCompletionBody>): ChatCompletionBody => ({
  model: 'claude',
  messages: [{ role: 'user', content: 'Hi' }],
  ...fields,
});
const tool = (name: string, parameters?: object) => ({
  type: 'function' as const,
  function: { name, ...(parameters ? { parameters } : {}) },
});

function paramOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return (error as { code?: string; param?: string }).code === 'VALIDATION_ERROR'
      ? (error as { param?: string }).param
      : error;
  }
  return undefined;
}

describe('toAnthropicChat', () => {
  it('lifts system and developer text out and starts with a user turn', () => {
    expect(
      toAnthropicChat([
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Be ' },
            { type: 'text', text: 'brief.' },
          ],
        },
        { role: 'assistant', content: 'Hello.' },
        { role: 'developer', content: 'No jokes.' },
        { role: 'user', content: 'Hi' },
      ]),
    ).toEqual({
      system: 'Be brief.\n\nNo jokes.',
      messages: [
        { role: 'user', content: PLACEHOLDER_TURN },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Hi' },
      ],
    });
  });

  it('merges a tool result and the user text that follows into one user turn, results first', () => {
    const messages: ChatRequestMessage[] = [
      { role: 'user', content: 'Go' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: '' },
      { role: 'user', content: 'And now?' },
    ];
    expect(toAnthropicChat(messages).messages).toEqual([
      { role: 'user', content: 'Go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'c1' },
          { type: 'text', text: 'And now?' },
        ],
      },
    ]);
  });

  it('trims a final assistant prefill and drops it when empty', () => {
    expect(
      toAnthropicChat([
        { role: 'user', content: 'Count' },
        { role: 'assistant', content: '1, 2, ' },
      ]).messages[1],
    ).toEqual({ role: 'assistant', content: '1, 2,' });
    expect(
      toAnthropicChat([
        { role: 'user', content: 'Count' },
        { role: 'assistant', content: '  ' },
      ]).messages,
    ).toEqual([{ role: 'user', content: 'Count' }]);
  });

  it.each([
    [[{ role: 'user', content: 'Hi', name: 'bob' }], 'messages[0].name'],
    [
      [
        {
          role: 'user',
          content: [{ type: 'image_url', image_url: { url: 'http://x.test/a.png' } }],
        },
      ],
      'messages[0].content[0].image_url.url',
    ],
    [
      [
        {
          role: 'user',
          content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AAAA' } }],
        },
      ],
      'messages[0].content[0].image_url.url',
    ],
    [
      [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'https://x.test/a.png', detail: 'low' } },
          ],
        },
      ],
      'messages[0].content[0].image_url.detail',
    ],
    [
      [
        { role: 'user', content: 'Go' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }],
        },
      ],
      'messages[1].tool_calls[0].function.arguments',
    ],
  ] as [ChatRequestMessage[], string][])(
    'refuses by name what it cannot say (%j)',
    (messages, param) => {
      expect(paramOf(() => toAnthropicChat(messages))).toBe(param);
    },
  );
});

describe('toAnthropicTools', () => {
  it('sends nothing without tools or a response format', () => {
    expect(toAnthropicTools(body({ tool_choice: 'none', parallel_tool_calls: false }))).toEqual({});
    expect(toAnthropicTools(body({ response_format: { type: 'text' } }))).toEqual({});
  });

  it('gives a tool without parameters an empty object schema and keeps strict only when true', () => {
    const [plain, strict, loose] =
      toAnthropicTools(
        body({
          tools: [
            tool('a'),
            {
              type: 'function',
              function: { name: 'b', parameters: { type: 'object' }, strict: true },
            },
            {
              type: 'function',
              function: { name: 'c', parameters: { type: 'object' }, strict: false },
            },
          ],
        }),
      ).tools ?? [];
    expect(plain).toEqual({ name: 'a', input_schema: { type: 'object', properties: {} } });
    expect(strict).toEqual({ name: 'b', input_schema: { type: 'object' }, strict: true });
    expect(loose).toEqual({ name: 'c', input_schema: { type: 'object' } });
  });

  it('forces the answer tool with tool_choice none, and not at all when a call is forced', () => {
    const json = { type: 'json_object' };
    const none = toAnthropicTools(
      body({ tools: [tool('f')], tool_choice: 'none', response_format: json }),
    );
    expect(none.tool_choice).toEqual({ type: 'tool', name: JSON_OBJECT_TOOL });
    expect(none.responseTool).toBe(JSON_OBJECT_TOOL);
    const forced = toAnthropicTools(
      body({ tools: [tool('f')], tool_choice: 'required', response_format: json }),
    );
    expect(forced).toEqual({
      tools: [{ name: 'f', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'any' },
    });
  });

  it('refuses a schema Anthropic cannot take and an answer tool named like a tool', () => {
    expect(paramOf(() => toAnthropicTools(body({ tools: [tool('f', { type: 'array' })] })))).toBe(
      'tools[0].function.parameters',
    );
    expect(
      paramOf(() =>
        toAnthropicTools(
          body({
            response_format: {
              type: 'json_schema',
              json_schema: { name: 'x', schema: { type: 'string' } },
            },
          }),
        ),
      ),
    ).toBe('response_format.json_schema.schema');
    expect(
      paramOf(() =>
        toAnthropicTools(
          body({
            tools: [tool('x')],
            response_format: { type: 'json_schema', json_schema: { name: 'x' } },
          }),
        ),
      ),
    ).toBe('response_format');
  });
});

describe('ANTHROPIC_CHAT_SUPPORT', () => {
  it.each([
    ['logprobs', { logprobs: true }],
    ['n', { n: 2 }],
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['presence_penalty', { presence_penalty: 0.5 }],
    ['frequency_penalty', { frequency_penalty: 0.5 }],
    ['seed', { seed: 7 }],
    ['audio', { audio: { voice: 'alloy', format: 'mp3' } }],
    ['modalities', { modalities: ['text', 'audio'] }],
    ['prediction', { prediction: { type: 'content', content: 'x' } }],
    ['web_search_options', { web_search_options: {} }],
    ['service_tier', { service_tier: 'flex' }],
    ['reasoning_effort', { reasoning_effort: 'low' }],
  ])('refuses %s by name', (field, fields) => {
    expect(unsupportedChatField(body(fields), ANTHROPIC_CHAT_SUPPORT)?.field).toBe(field);
  });

  it('refuses audio and file parts but takes text and image parts', () => {
    const parts = (type: string) =>
      body({
        messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type } as never] }],
      });
    expect(unsupportedChatField(parts('input_audio'), ANTHROPIC_CHAT_SUPPORT)?.field).toBe(
      'messages[0].content[1]',
    );
    expect(unsupportedChatField(parts('file'), ANTHROPIC_CHAT_SUPPORT)?.field).toBe(
      'messages[0].content[1]',
    );
    expect(unsupportedChatField(parts('image_url'), ANTHROPIC_CHAT_SUPPORT)).toBeUndefined();
  });

  it('takes the turns of a tool loop', () => {
    const loop = body({
      tools: [tool('f')],
      messages: [
        { role: 'user', content: 'Go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'done' },
      ],
    });
    expect(unsupportedChatField(loop, ANTHROPIC_CHAT_SUPPORT)).toBeUndefined();
  });

  it('takes what it translates and what asks for nothing', () => {
    const admitted = body({
      tools: [tool('f')],
      tool_choice: 'required',
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'x' } },
      user: 'u',
      metadata: { a: 'b' },
      n: 1,
      logprobs: false,
      presence_penalty: 0,
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 10,
    });
    expect(unsupportedChatField(admitted, ANTHROPIC_CHAT_SUPPORT)).toBeUndefined();
  });
});
