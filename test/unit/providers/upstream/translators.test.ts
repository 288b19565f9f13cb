import { describe, expect, it } from 'vitest';
import type { GenerationEvent, GenerationRequest } from '../../../../src/domain/ports.js';
import { createAnthropicTranslator } from '../../../../src/providers/anthropic/stream-translator.js';
import { createOpenAITranslator } from '../../../../src/providers/openai-compatible/stream-translator.js';
import { UpstreamFailure } from '../../../../src/providers/shared/upstream-errors.js';
import type { StreamTranslator } from '../../../../src/providers/shared/upstream-runtime.js';

const request: GenerationRequest = {
  model: 'm',
  input: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] },
  maxTokens: 16,
  temperature: 0,
  topP: 1,
  stop: [],
  signal: new AbortController().signal,
};

function feed(translator: StreamTranslator, events: Array<[string, unknown]>): GenerationEvent[] {
  return events.flatMap(([event, data]) =>
    translator.push({ event, data: typeof data === 'string' ? data : JSON.stringify(data) }),
  );
}

describe('OpenAI stream translator', () => {
  it('maps deltas, finish reasons and the usage chunk', () => {
    const events = feed(createOpenAITranslator(request, []), [
      ['message', { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }],
      ['message', { choices: [{ index: 0, delta: { content: 'Hel' } }] }],
      [
        'message',
        { choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'content_filter' }] },
      ],
      ['message', { choices: [], usage: { prompt_tokens: 5, completion_tokens: 2 } }],
      ['message', '[DONE]'],
    ]);
    expect(events).toEqual([
      { type: 'text', text: 'Hel', tokens: 1 },
      { type: 'text', text: 'lo', tokens: 1 },
      {
        type: 'done',
        finishReason: 'content_filter',
        usage: { promptTokens: 5, completionTokens: 2 },
      },
    ]);
  });

  it('counts the tokens of each piece, for a stream that ends before its usage chunk', () => {
    const events = feed(createOpenAITranslator(request, []), [
      ['message', { choices: [{ index: 0, delta: { content: 'The quick brown fox' } }] }],
      ['message', { choices: [{ index: 0, delta: { content: ' jumps over the lazy dog.' } }] }],
    ]);
    expect(events).toEqual([
      { type: 'text', text: 'The quick brown fox', tokens: 4 },
      { type: 'text', text: ' jumps over the lazy dog.', tokens: 6 },
    ]);
  });

  it('reads legacy completion text and length', () => {
    const translator = createOpenAITranslator(request, []);
    const events = feed(translator, [
      ['message', { choices: [{ index: 0, text: 'abc', finish_reason: 'length' }] }],
    ]);
    expect(events).toEqual([{ type: 'text', text: 'abc', tokens: 1 }]);
    expect(translator.end()).toMatchObject({ type: 'done', finishReason: 'length' });
  });

  it('throws on error chunks, non-JSON and an early end', () => {
    const translator = createOpenAITranslator(request, []);
    expect(() => feed(translator, [['message', { error: { message: 'boom' } }]])).toThrow(
      UpstreamFailure,
    );
    expect(() => feed(translator, [['message', 'not json']])).toThrow(UpstreamFailure);
    expect(() => createOpenAITranslator(request, []).end()).toThrow(UpstreamFailure);
  });
});

describe('Anthropic stream translator', () => {
  it('maps the Messages event sequence', () => {
    const events = feed(createAnthropicTranslator(request, []), [
      [
        'message_start',
        { type: 'message_start', message: { usage: { input_tokens: 7, output_tokens: 1 } } },
      ],
      ['content_block_start', { type: 'content_block_start', index: 0 }],
      ['ping', { type: 'ping' }],
      [
        'content_block_delta',
        { type: 'content_block_delta', delta: { type: 'text_delta', text: 'Hi' } },
      ],
      [
        'content_block_delta',
        { type: 'content_block_delta', delta: { type: 'input_json_delta', partial_json: '{' } },
      ],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'max_tokens' },
          usage: { output_tokens: 3 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ]);
    expect(events).toEqual([
      { type: 'text', text: 'Hi', tokens: 1 },
      { type: 'done', finishReason: 'length', usage: { promptTokens: 7, completionTokens: 3 } },
    ]);
  });

  it('counts the tokens of each text delta, for a stream that ends before message_delta', () => {
    const events = feed(createAnthropicTranslator(request, []), [
      [
        'content_block_delta',
        { type: 'content_block_delta', delta: { type: 'text_delta', text: 'The quick brown fox' } },
      ],
    ]);
    expect(events).toEqual([{ type: 'text', text: 'The quick brown fox', tokens: 4 }]);
  });

  it('maps end_turn and stop_sequence to stop', () => {
    for (const reason of ['end_turn', 'stop_sequence']) {
      const translator = createAnthropicTranslator(request, []);
      feed(translator, [
        ['message_delta', { type: 'message_delta', delta: { stop_reason: reason } }],
      ]);
      expect(translator.end()).toMatchObject({ finishReason: 'stop' });
    }
  });

  it('turns error events into failures, retryable when the upstream is overloaded', () => {
    const overloaded = (): GenerationEvent[] =>
      feed(createAnthropicTranslator(request, []), [
        ['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
      ]);
    expect(overloaded).toThrow(UpstreamFailure);
    try {
      overloaded();
    } catch (error) {
      expect((error as UpstreamFailure).retryable).toBe(true);
    }
    expect(() => createAnthropicTranslator(request, []).end()).toThrow(UpstreamFailure);
  });
});
