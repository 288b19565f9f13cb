import { describe, expect, it } from 'vitest';
import type { GenerationRequest } from '../../../../src/domain/ports.js';
import {
  ANTHROPIC_PARAMETERS,
  anthropicTemperature,
  PLACEHOLDER_TURN,
  toAnthropicConversation,
} from '../../../../src/providers/anthropic/index.js';
import { OPENAI_PARAMETERS } from '../../../../src/providers/shared/openai-parameters.js';
import {
  buildRequestBody,
  extendParameters,
} from '../../../../src/providers/shared/parameter-table.js';

function request(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    model: 'm',
    input: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }] },
    maxTokens: 16,
    temperature: 0.2,
    topP: 1,
    stop: [],
    signal: new AbortController().signal,
    ...overrides,
  };
}

describe('the OpenAI parameter table', () => {
  it('maps a chat request, always streaming with usage', () => {
    expect(
      buildRequestBody(OPENAI_PARAMETERS, request({ stop: ['x'], seed: 3, topP: 0.5 })),
    ).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 16,
      temperature: 0.2,
      top_p: 0.5,
      stop: ['x'],
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('maps a text request to prompt and leaves out what is unset', () => {
    const body = buildRequestBody(
      OPENAI_PARAMETERS,
      request({ input: { kind: 'text', prompt: 'p' } }),
    );
    expect(body).toMatchObject({ prompt: 'p' });
    expect(Object.keys(body)).not.toContain('messages');
    expect(Object.keys(body)).not.toContain('stop');
    expect(Object.keys(body)).not.toContain('seed');
  });

  it('never carries transport fields (signal, headers, timeouts) upstream', () => {
    const body = buildRequestBody(
      OPENAI_PARAMETERS,
      request({ timeoutMs: 5, forwardHeaders: { traceparent: 't' } }),
    );
    expect(JSON.stringify(body)).not.toMatch(/signal|traceparent|timeout/);
  });

  it('is extended by overriding, adding and removing named rules', () => {
    const table = extendParameters(OPENAI_PARAMETERS, {
      max_tokens: { from: 'maxTokens', to: 'max_completion_tokens' },
      seed: null,
      user: { to: 'metadata.source', value: 'gateway' },
    });
    const body = buildRequestBody(table, request({ seed: 1 }));
    expect(body).toMatchObject({ max_completion_tokens: 16, metadata: { source: 'gateway' } });
    expect(body).not.toHaveProperty('max_tokens');
    expect(body).not.toHaveProperty('seed');
    // The base table is untouched.
    expect(OPENAI_PARAMETERS).toHaveProperty('seed');
  });
});

describe('the Anthropic parameter overrides', () => {
  it('differ from the OpenAI table only where the Messages API differs', () => {
    const body = buildRequestBody(
      ANTHROPIC_PARAMETERS,
      request({
        input: {
          kind: 'chat',
          messages: [
            { role: 'system', content: 's' },
            { role: 'user', content: 'u' },
          ],
        },
        temperature: 1,
        topP: 0.8,
        stop: ['\n\nHuman:'],
        seed: 9,
      }),
    );
    expect(body).toEqual({
      model: 'm',
      system: 's',
      messages: [{ role: 'user', content: 'u' }],
      max_tokens: 16,
      temperature: 1,
      top_p: 0.8,
      stop_sequences: ['\n\nHuman:'],
      stream: true,
    });
  });

  it('passes temperatures in [0, 1] and refuses a higher one by name', () => {
    expect(anthropicTemperature(0)).toBe(0);
    expect(anthropicTemperature(0.7)).toBe(0.7);
    expect(anthropicTemperature(1)).toBe(1);
    expect(() => anthropicTemperature(1.8)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_ERROR', param: 'temperature' }),
    );
  });
});

describe('toAnthropicConversation', () => {
  it('lifts system and developer messages into one system prompt', () => {
    expect(
      toAnthropicConversation({
        kind: 'chat',
        messages: [
          { role: 'system', content: 'a' },
          { role: 'user', content: 'q' },
          { role: 'developer', content: 'b' },
        ],
      }),
    ).toEqual({ system: 'a\n\nb', messages: [{ role: 'user', content: 'q' }] });
  });

  it('merges consecutive same-role turns (tool results count as the user)', () => {
    const { messages } = toAnthropicConversation({
      kind: 'chat',
      messages: [
        { role: 'user', content: 'one' },
        { role: 'tool', content: 'two' },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: 'four' },
        { role: 'user', content: 'five' },
      ],
    });
    expect(messages).toEqual([
      { role: 'user', content: 'one\n\ntwo' },
      { role: 'assistant', content: 'three\n\nfour' },
      { role: 'user', content: 'five' },
    ]);
  });

  it('puts a user turn before a leading assistant turn and fills empty turns', () => {
    const { messages, system } = toAnthropicConversation({
      kind: 'chat',
      messages: [
        { role: 'assistant', content: 'Welcome!' },
        { role: 'user', content: '' },
      ],
    });
    expect(system).toBeUndefined();
    expect(messages).toEqual([
      { role: 'user', content: PLACEHOLDER_TURN },
      { role: 'assistant', content: 'Welcome!' },
      { role: 'user', content: PLACEHOLDER_TURN },
    ]);
  });

  it('trims a final assistant prefill and drops it when empty', () => {
    expect(
      toAnthropicConversation({
        kind: 'chat',
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'The answer is ' },
        ],
      }).messages,
    ).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'The answer is' },
    ]);
    expect(
      toAnthropicConversation({
        kind: 'chat',
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '  ' },
        ],
      }).messages,
    ).toEqual([{ role: 'user', content: 'q' }]);
  });

  it('turns a text prompt, or a system-only chat, into one user turn', () => {
    expect(toAnthropicConversation({ kind: 'text', prompt: 'p' }).messages).toEqual([
      { role: 'user', content: 'p' },
    ]);
    expect(
      toAnthropicConversation({ kind: 'chat', messages: [{ role: 'system', content: 's' }] }),
    ).toEqual({ system: 's', messages: [{ role: 'user', content: PLACEHOLDER_TURN }] });
  });
});
