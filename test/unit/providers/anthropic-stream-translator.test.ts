import { describe, expect, it } from 'vitest';
import type { GenerationEvent, GenerationRequest } from '../../../src/domain/ports.js';
import {
  AnthropicUsageTally,
  createAnthropicTranslator,
  finishReasonOf,
} from '../../../src/providers/anthropic/stream-translator.js';
import { UpstreamFailure } from '../../../src/providers/shared/upstream-errors.js';

const request: GenerationRequest = {
  model: 'm',
  input: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] },
  maxTokens: 16,
  temperature: 0,
  topP: 1,
  stop: [],
  signal: new AbortController().signal,
};

function run(events: Record<string, unknown>[], responseTool?: string): GenerationEvent[] {
  const translator = createAnthropicTranslator(request, [], responseTool);
  return events.flatMap((data) =>
    translator.push({ event: String(data.type), data: JSON.stringify(data) }),
  );
}

const start = (index: number, content_block: Record<string, unknown>) => ({
  type: 'content_block_start',
  index,
  content_block,
});
const delta = (index: number, d: Record<string, unknown>) => ({
  type: 'content_block_delta',
  index,
  delta: d,
});
const stop = (stop_reason: string) => [
  { type: 'message_delta', delta: { stop_reason }, usage: { output_tokens: 5 } },
  { type: 'message_stop' },
];

describe('finishReasonOf', () => {
  it.each([
    ['end_turn', false, 'stop'],
    ['stop_sequence', false, 'stop'],
    ['pause_turn', false, 'stop'],
    ['tool_use', true, 'tool_calls'],
    ['tool_use', false, 'stop'],
    ['max_tokens', false, 'length'],
    ['model_context_window_exceeded', false, 'length'],
    ['refusal', false, 'content_filter'],
  ] as const)('maps %s (client tools called: %s) to %s', (reason, called, expected) => {
    expect(finishReasonOf(reason, called)).toBe(expected);
  });
});

describe('AnthropicUsageTally', () => {
  it('counts cache reads and writes into the prompt, reads as cached, thinking as reasoning', () => {
    const tally = new AnthropicUsageTally();
    tally.record({
      input_tokens: 10,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 20,
      output_tokens: 1,
    });
    tally.record({ output_tokens: 30, output_tokens_details: { thinking_tokens: 12 } });
    expect(tally.usage({ promptTokens: () => -1, completionTokens: () => -1 })).toEqual({
      promptTokens: 130,
      completionTokens: 30,
      cachedTokens: 100,
      reasoningTokens: 12,
    });
  });

  it('estimates what the upstream did not report and leaves unreported details out', () => {
    expect(
      new AnthropicUsageTally().usage({ promptTokens: () => 3, completionTokens: () => 4 }),
    ).toEqual({
      promptTokens: 3,
      completionTokens: 4,
    });
  });
});

describe('Anthropic stream translator with tools', () => {
  it('turns the answer tool into text and hides thinking and server tool blocks', () => {
    const events = run(
      [
        { type: 'message_start', message: { usage: { input_tokens: 4, output_tokens: 1 } } },
        start(0, { type: 'thinking', thinking: '' }),
        delta(0, { type: 'thinking_delta', thinking: 'secret' }),
        start(1, { type: 'server_tool_use', id: 'srv', name: 'web_search', input: {} }),
        delta(1, { type: 'input_json_delta', partial_json: '{"q":1}' }),
        start(2, { type: 'tool_use', id: 'toolu_a', name: 'answer', input: {} }),
        delta(2, { type: 'input_json_delta', partial_json: '' }),
        delta(2, { type: 'input_json_delta', partial_json: '{"a":' }),
        delta(2, { type: 'input_json_delta', partial_json: '1}' }),
        ...stop('tool_use'),
      ],
      'answer',
    );
    expect(events.map((event) => event.type)).toEqual(['text', 'text', 'done']);
    expect(events.map((event) => ('text' in event ? event.text : '')).join('')).toBe('{"a":1}');
    expect(events[2]).toMatchObject({
      finishReason: 'stop',
      usage: { promptTokens: 4, completionTokens: 5 },
    });
  });

  it('maps a refusal to content_filter after the text streamed so far', () => {
    const events = run([
      start(0, { type: 'text', text: '' }),
      delta(0, { type: 'text_delta', text: 'I can' }),
      ...stop('refusal'),
    ]);
    expect(events[0]).toMatchObject({ type: 'text', text: 'I can' });
    expect(events[1]).toMatchObject({ type: 'done', finishReason: 'content_filter' });
  });

  it('refuses a tool_use block without an id as malformed', () => {
    let failure: unknown;
    try {
      run([start(0, { type: 'tool_use', name: 'f' })]);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(UpstreamFailure);
    expect(failure).toMatchObject({
      kind: 'malformed',
      detail: 'tool_use block without id or name',
    });
  });
});
