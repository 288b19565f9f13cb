import { describe, expect, it } from 'vitest';
import type { GenerationEvent } from '../../../src/domain/ports.js';
import { chatCompletionBody, type ChatAnswer } from '../../../src/http/routes/v1/chat-render.js';
import { chatChunkRenderer } from '../../../src/http/routes/v1/chat-sse.js';
import { completionChunkRenderer } from '../../../src/http/routes/v1/completion-render.js';
import { sseStream } from '../../../src/http/routes/v1/sse.js';
import { createContractChecker } from '../../support/contract.js';

const contract = createContractChecker();
const identity = { id: 'chatcmpl-ours123', model: 'public-model', created: 1_800_000_000 };
const usage = { promptTokens: 7, completionTokens: 3 };

function answer(extra: Partial<ChatAnswer>): ChatAnswer {
  return { ...identity, text: '', finishReason: 'stop', usage, ...extra };
}

/** The JSON of each frame a renderer writes for `events`, in order. */
function render(events: GenerationEvent[], includeUsage = false): Record<string, unknown>[] {
  const renderer = chatChunkRenderer(identity, includeUsage);
  return events
    .flatMap((event) => renderer(event))
    .map((frame) => {
      expect(frame).toMatch(/^data: .*\n\n$/s);
      return JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>;
    });
}

type Chunk = { choices: { delta: Record<string, unknown>; finish_reason: string | null }[] };
const deltas = (chunks: Record<string, unknown>[]) =>
  (chunks as unknown as Chunk[]).flatMap((chunk) => chunk.choices.map((choice) => choice.delta));

describe('a non-streamed chat answer', () => {
  it('is text with refusal null and no tool_calls', () => {
    const body = chatCompletionBody(answer({ text: 'Hello.' }));
    contract.schema('ChatCompletion', body);
    expect(body.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello.', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });

  it('has content null when the model only called tools', () => {
    const body = chatCompletionBody(
      answer({
        finishReason: 'tool_calls',
        toolCalls: [
          { id: 'call_a', name: 'weather', arguments: '{"city":"Oslo"}' },
          { id: 'call_b', name: 'time', arguments: '{}' },
        ],
      }),
    );
    contract.schema('ChatCompletion', body);
    expect(body.choices[0]?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        {
          id: 'call_a',
          type: 'function',
          function: { name: 'weather', arguments: '{"city":"Oslo"}' },
        },
        { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } },
      ],
    });
    expect(body.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('carries a refusal with content null', () => {
    const body = chatCompletionBody(
      answer({ refusal: 'I cannot help with that.', finishReason: 'content_filter' }),
    );
    contract.schema('ChatCompletion', body);
    expect(body.choices[0]?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: 'I cannot help with that.',
    });
  });

  it('reports cached and reasoning tokens only when known', () => {
    const body = chatCompletionBody(
      answer({ text: 'x', usage: { ...usage, cachedTokens: 4, reasoningTokens: 2 } }),
    );
    contract.schema('ChatCompletion', body);
    expect(body.usage).toEqual({
      prompt_tokens: 7,
      completion_tokens: 3,
      total_tokens: 10,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 2 },
    });
  });

  it('is a relayed body as the upstream sent it but for id, model and created', () => {
    const upstream = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1,
      model: 'upstream-model-2026',
      system_fingerprint: 'fp_1',
      choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, extra: { a: 1 } },
      service_tier: 'default',
    };
    const body = chatCompletionBody(answer({ text: 'ignored', relayed: upstream }));
    expect(JSON.stringify(body)).toBe(
      JSON.stringify({
        ...upstream,
        id: identity.id,
        created: identity.created,
        model: identity.model,
      }),
    );
    expect(Object.keys(body)).toEqual(Object.keys(upstream));
  });
});

describe('a streamed chat answer', () => {
  it('opens with the role, streams text, ends with finish_reason', () => {
    const chunks = render([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'done', finishReason: 'stop', usage },
    ]);
    for (const chunk of chunks) contract.schema('ChatCompletionChunk', chunk);
    expect(deltas(chunks)).toEqual([{ role: 'assistant', content: 'Hel' }, { content: 'lo' }, {}]);
    expect(chunks.every((chunk) => !('usage' in chunk))).toBe(true);
    expect(chunks.map((chunk) => [chunk.id, chunk.model, chunk.created])).toEqual(
      chunks.map(() => [identity.id, identity.model, identity.created]),
    );
  });

  it('names a tool call only on its first piece, for each call by index', () => {
    const chunks = render([
      { type: 'toolCall', index: 0, id: 'call_a', name: 'weather', arguments: '' },
      { type: 'toolCall', index: 0, arguments: '{"ci' },
      { type: 'toolCall', index: 1, id: 'call_b', name: 'time', arguments: '{' },
      { type: 'toolCall', index: 0, arguments: 'ty":"Oslo"}' },
      { type: 'toolCall', index: 1, arguments: '}' },
      { type: 'done', finishReason: 'tool_calls', usage },
    ]);
    for (const chunk of chunks) contract.schema('ChatCompletionChunk', chunk);
    expect(deltas(chunks)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            index: 0,
            id: 'call_a',
            type: 'function',
            function: { name: 'weather', arguments: '' },
          },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] },
      {
        tool_calls: [
          { index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '{' } },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: 'ty":"Oslo"}' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '}' } }] },
      {},
    ]);
    expect((chunks.at(-1) as unknown as Chunk).choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('streams a refusal as refusal deltas', () => {
    const chunks = render([
      { type: 'refusal', text: 'I cannot' },
      { type: 'refusal', text: ' help.' },
      { type: 'done', finishReason: 'content_filter', usage },
    ]);
    for (const chunk of chunks) contract.schema('ChatCompletionChunk', chunk);
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: null, refusal: 'I cannot' },
      { refusal: ' help.' },
      {},
    ]);
  });

  it('opens the message even when nothing was generated', () => {
    const chunks = render([{ type: 'done', finishReason: 'length', usage }]);
    expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, {}]);
  });

  it('sends usage: null on every chunk and the usage chunk last when asked', () => {
    const chunks = render(
      [
        { type: 'text', text: 'Hi' },
        { type: 'done', finishReason: 'stop', usage: { ...usage, cachedTokens: 5 } },
      ],
      true,
    );
    for (const chunk of chunks) contract.schema('ChatCompletionChunk', chunk);
    expect(chunks.map((chunk) => chunk.usage)).toEqual([
      null,
      null,
      {
        prompt_tokens: 7,
        completion_tokens: 3,
        total_tokens: 10,
        prompt_tokens_details: { cached_tokens: 5 },
      },
    ]);
    expect(chunks.at(-1)?.choices).toEqual([]);
  });

  it('writes relayed chunks as they came but for id, model and created, and adds nothing', () => {
    const upstream = [
      {
        id: 'chatcmpl-up',
        object: 'chat.completion.chunk',
        created: 5,
        model: 'up-model',
        system_fingerprint: 'fp',
        choices: [
          {
            index: 0,
            delta: {
              tool_calls: [
                {
                  index: 0,
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'f', arguments: '' },
                },
              ],
            },
            logprobs: null,
            finish_reason: null,
          },
        ],
      },
      {
        id: 'chatcmpl-up',
        object: 'chat.completion.chunk',
        created: 5,
        model: 'up-model',
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }],
      },
    ];
    const chunks = render(
      [
        ...upstream.map((data) => ({ type: 'relay' as const, data, text: '', tokens: 1 })),
        { type: 'done', finishReason: 'tool_calls', usage },
      ],
      true,
    );
    expect(chunks.map((chunk) => JSON.stringify(chunk))).toEqual(
      upstream.map((data) => JSON.stringify({ ...data, ...identity, id: identity.id })),
    );
  });
});

describe('the SSE stream', () => {
  async function collect(events: GenerationEvent[], failAfter?: number) {
    let returned = false;
    let index = 0;
    const rest: AsyncIterator<GenerationEvent> = {
      next: async () => {
        index += 1;
        if (index === failAfter) throw new Error('upstream broke at /work/main/src/x.ts:1:1');
        const value = events[index];
        return value === undefined ? { done: true, value: undefined } : { done: false, value };
      },
      return: async () => {
        returned = true;
        return { done: true, value: undefined };
      },
    };
    const first = { done: false as const, value: events[0] as GenerationEvent };
    const frames: string[] = [];
    for await (const frame of sseStream(
      { first, rest },
      completionChunkRenderer(identity, false),
      'req_1',
    )) {
      frames.push(frame);
    }
    return { frames, returned };
  }

  it('ends with [DONE] after done and returns the events', async () => {
    const { frames, returned } = await collect([
      { type: 'text', text: 'a' },
      { type: 'done', finishReason: 'stop', usage },
    ]);
    expect(frames.at(-1)).toBe('data: [DONE]\n\n');
    expect(frames).toHaveLength(3);
    expect(returned).toBe(true);
  });

  it('ends a stream that fails after its first byte with an error event and no [DONE]', async () => {
    const { frames, returned } = await collect(
      [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ],
      1,
    );
    expect(frames).toHaveLength(2);
    const error = JSON.parse(frames[1]!.slice('data: '.length)) as {
      error: Record<string, unknown>;
    };
    expect(error.error).toMatchObject({ code: 'INTERNAL_ERROR', request_id: 'req_1' });
    expect(frames[1]).not.toContain('/work/');
    expect(frames.join('')).not.toContain('[DONE]');
    expect(returned).toBe(true);
  });
});
