import { describe, expect, it } from 'vitest';
import type { Token } from 'node-llama-cpp';
import type { ChatCompletionBody } from '../../../src/domain/inference/chat-request.js';
import { chatTranscript } from '../../../src/providers/local/chat-transcript.js';
import { ReplyReader } from '../../../src/providers/local/reply-reader.js';
import { logitBiasEntries, penaltyOptions } from '../../../src/providers/local/sampling.js';
import {
  callableTools,
  callText,
  newCallId,
  readCall,
  toolLines,
  typeText,
} from '../../../src/providers/local/tool-calls.js';

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather now',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { enum: ['c', 'f'] },
        days: { type: 'array', items: { type: 'integer' } },
      },
    },
  },
};
const body = (fields: Record<string, unknown>) =>
  ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...fields }) as ChatCompletionBody;
const call = { type: 'object' } as never;

describe('tool calls as the local model writes them', () => {
  it('writes and reads back a call', () => {
    const text = callText('get_weather', '{"city": "Oslo"}');
    expect(text).toBe('{"name":"get_weather","arguments":{"city":"Oslo"}}');
    expect(readCall(text)).toEqual({ name: 'get_weather', arguments: '{"city":"Oslo"}' });
    // Arguments that are not JSON stay the string they are.
    expect(callText('f', 'not json')).toBe('{"name":"f","arguments":"not json"}');
  });

  it('reads a call cut short once its name is written', () => {
    expect(readCall('{"name": "get_weather", "arguments": {"city": "Os')).toEqual({
      name: 'get_weather',
      arguments: '{"city": "Os',
    });
    expect(readCall('{"name": "get_wea')).toBeUndefined();
    expect(readCall('')).toBeUndefined();
  });

  it('lists the tools as JSON, or as short signatures for a small context', () => {
    expect(toolLines([WEATHER], { compact: true })).toEqual([
      'get_weather(city: string, unit: "c" | "f", days: integer[]) Weather now',
    ]);
    expect(JSON.parse(toolLines([WEATHER], { compact: false })[0]!)).toEqual({
      name: 'get_weather',
      description: 'Weather now',
      parameters: WEATHER.function.parameters,
    });
    expect(typeText({ anyOf: [{ type: 'string' }, { const: 3 }] })).toBe('string | 3');
  });

  it('offers every tool, the named one, or none', () => {
    const other = { type: 'function' as const, function: { name: 'g' } };
    expect(callableTools(undefined)).toEqual([]);
    expect(callableTools(body({ tools: [WEATHER, other] }))).toEqual([WEATHER, other]);
    expect(
      callableTools(
        body({
          tools: [WEATHER, other],
          tool_choice: { type: 'function', function: { name: 'g' } },
        }),
      ),
    ).toEqual([other]);
    expect(callableTools(body({ tools: [WEATHER], tool_choice: 'none' }))).toEqual([]);
  });

  it('makes ids in OpenAI style, each different', () => {
    const ids = new Set(Array.from({ length: 20 }, newCallId));
    expect(ids.size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^call_[A-Za-z0-9_-]{16}$/);
  });
});

describe('chatTranscript', () => {
  const loop = body({
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather ' },
          { type: 'text', text: 'in Oslo?' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'c1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'rain' },
    ],
  });

  it('renders parts, calls and results as the text the model reads, tools first', () => {
    expect(chatTranscript(loop, [WEATHER], { templated: false })).toEqual([
      {
        role: 'system',
        content: 'get_weather(city: string, unit: "c" | "f", days: integer[]) Weather now',
      },
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: '{"name":"get_weather","arguments":{"city":"Oslo"}}' },
      { role: 'user', content: 'get_weather returned: rain' },
    ]);
  });

  it('tells a model with a chat template how to call, and leaves tools out when none may be called', () => {
    const [tools] = chatTranscript(loop, [WEATHER], { templated: true });
    expect(tools?.content).toMatch(/^You may call one of these tools\..*\n\{"name":"get_weather"/s);
    expect(chatTranscript(loop, [], { templated: true })).toHaveLength(4);
  });
});

describe('ReplyReader', () => {
  const names = new Set(['get_weather']);

  it('streams text as soon as its first visible character is not a call', () => {
    const reader = new ReplyReader({ kind: 'textOrCall', call }, names);
    expect(reader.push(' ')).toBe('');
    expect(reader.sawVisibleText).toBe(false);
    expect(reader.push(' a')).toBe('  a');
    expect(reader.push(' river')).toBe(' river');
    expect(reader.finish()).toEqual({ content: '' });
  });

  it('streams a call: its name once written, then its arguments up to where they end', () => {
    const reader = new ReplyReader({ kind: 'textOrCall', call }, names);
    const pieces = [
      ' {"name": "get_we',
      'ather", "arguments": ',
      '{"city": "O}',
      'slo", "n": {"a": [1]}',
      '}\n}',
    ];
    const taken = pieces.map((piece) => {
      expect(reader.push(piece)).toBe('');
      return reader.takeCall();
    });
    expect(reader.isContent).toBe(false);
    expect(taken).toEqual([
      undefined,
      // The name is certain once the arguments have started.
      undefined,
      { name: 'get_weather', arguments: '{"city": "O}' },
      { arguments: 'slo", "n": {"a": [1]}' },
      { arguments: '}' },
    ]);
    expect(reader.finish()).toEqual({ callRest: '', content: '' });
  });

  it('gives the rest of arguments cut short at the end', () => {
    const reader = new ReplyReader({ kind: 'call', call }, names);
    reader.push('{"name": "get_weather", "arguments": {"ci');
    expect(reader.takeCall()).toEqual({ name: 'get_weather', arguments: '{"ci' });
    reader.push('ty');
    expect(reader.finish()).toEqual({ callRest: 'ty', content: '' });
  });

  it('tells a JSON answer from a call when both may come', () => {
    const answer = new ReplyReader({ kind: 'jsonOrCall', call, answer: call }, names);
    answer.push('{"name": "get_weather", "kind": "noun"}');
    expect(answer.finish()).toEqual({ content: '{"name": "get_weather", "kind": "noun"}' });
    const called = new ReplyReader({ kind: 'jsonOrCall', call, answer: call }, names);
    called.push('{"name": "get_weather", "arguments": {}}');
    expect(called.takeCall()).toBeUndefined();
    expect(called.finish().call).toEqual({ name: 'get_weather', arguments: '{}' });
  });

  it('streams JSON content at once, and yields no call for a forced call cut before its name', () => {
    const json = new ReplyReader({ kind: 'json', answer: call }, names);
    expect(json.push('{"a"')).toBe('{"a"');
    const cut = new ReplyReader({ kind: 'call', call }, names);
    cut.push('{"na');
    expect(cut.finish()).toEqual({ content: '' });
  });
});

describe('sampling options', () => {
  it('maps OpenAI penalties to llama.cpp penalties over the whole reply, repeat penalty off', () => {
    const generated = [5, 6] as Token[];
    expect(penaltyOptions(body({}), generated, 64)).toBeUndefined();
    expect(
      penaltyOptions(body({ presence_penalty: 0, frequency_penalty: null }), generated, 64),
    ).toBeUndefined();
    const options = penaltyOptions(
      body({ presence_penalty: 0.5, frequency_penalty: -1 }),
      generated,
      64,
    );
    expect(options).toMatchObject({
      penalty: 1,
      presencePenalty: 0.5,
      frequencyPenalty: -1,
      maxPunishTokens: 64,
    });
    generated.push(7 as Token);
    expect((options?.punishTokens as () => number[])()).toEqual([5, 6, 7]);
  });

  it('reads logit_bias ids, refusing ids outside the vocabulary or that end generation', () => {
    const eog = (token: number) => token === 2;
    expect(logitBiasEntries(body({ logit_bias: { '5': -100, '9': 0, '7': 3 } }), 10, eog)).toEqual([
      [5, -100],
      [7, 3],
    ]);
    expect(logitBiasEntries(body({}), 10, eog)).toEqual([]);
    expect(() => logitBiasEntries(body({ logit_bias: { '10': 1 } }), 10, eog)).toThrow(
      expect.objectContaining({ param: 'logit_bias.10' }),
    );
    expect(() => logitBiasEntries(body({ logit_bias: { '2': -100 } }), 10, eog)).toThrow(
      expect.objectContaining({ param: 'logit_bias.2' }),
    );
  });
});
