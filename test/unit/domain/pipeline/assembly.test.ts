import { describe, expect, it } from 'vitest';
import type { GenerationEvent } from '../../../../src/domain/ports.js';
import { ScriptedProvider } from '../../routing/scripted-provider.js';
import { context, done, drain, hangsAfter, harness, params, scripted } from './harness.js';

const call = (index: number, piece: Partial<Extract<GenerationEvent, { type: 'toolCall' }>>) =>
  ({ type: 'toolCall', index, arguments: '', tokens: 1, ...piece }) as GenerationEvent;

describe('complete() assembles one answer', () => {
  it('merges parallel tool calls split across many events by index, in index order', async () => {
    const h = harness({
      providers: [
        new ScriptedProvider(
          'a',
          scripted(
            // The second call starts first: the answer still lists calls by index.
            call(1, { id: 'call_b', name: 'time' }),
            call(0, { id: 'call_a', name: 'weather' }),
            call(0, { arguments: '{"ci' }),
            call(1, { arguments: '{"zone":' }),
            call(0, { arguments: 'ty":"Paris"}' }),
            call(1, { arguments: '"CET"}' }),
            done('tool_calls'),
          ),
        ),
      ],
    });
    const answer = await h.service.complete(context(), params());
    expect(answer.toolCalls).toEqual([
      { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'time', arguments: '{"zone":"CET"}' },
    ]);
    expect(answer).toMatchObject({ text: '', finishReason: 'tool_calls' });
    expect(answer.refusal).toBeUndefined();
    // A plain temperature-0 request is cacheable, but an answer with tool calls is never kept.
    expect(h.cacheSets).toEqual([]);
    expect((await h.service.complete(context(), params())).cache).toBe('miss');
  });

  it('joins refusal pieces and keeps them out of the cache', async () => {
    const h = harness({
      providers: [
        new ScriptedProvider(
          'a',
          scripted(
            { type: 'refusal', text: "I can't " },
            { type: 'refusal', text: 'help.' },
            done(),
          ),
        ),
      ],
    });
    const answer = await h.service.complete(context(), params());
    expect(answer).toMatchObject({ text: '', refusal: "I can't help." });
    expect(h.cacheSets).toEqual([]);
  });

  it('keeps a non-streamed relayed body whole, and caches it only when it is plain text', async () => {
    const body = (message: Record<string, unknown>) => ({
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', ...message },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
    });
    const plain = body({ content: 'Hi', refusal: null, annotations: [] });
    const h = harness({
      providers: [
        new ScriptedProvider(
          'a',
          scripted({ type: 'relay', data: plain, text: 'Hi', tokens: 1 }, done()),
        ),
      ],
    });
    expect(await h.service.complete(context(), params())).toMatchObject({
      text: 'Hi',
      relayed: plain,
    });
    expect(h.cacheSets).toMatchObject([{ text: 'Hi' }]);

    const refused = body({ content: null, refusal: 'No.' });
    const r = harness({
      providers: [
        new ScriptedProvider(
          'a',
          scripted({ type: 'relay', data: refused, text: '', tokens: 1 }, done()),
        ),
      ],
    });
    expect((await r.service.complete(context(), params())).relayed).toEqual(refused);
    expect(r.cacheSets).toEqual([]);
  });

  it('assembles relayed chunks into text and tool calls, and refuses chunks it cannot assemble', async () => {
    const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      type: 'relay' as const,
      data: {
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta, logprobs: null, ...extra }],
      },
      text: typeof delta.content === 'string' ? delta.content : '',
      tokens: 1,
    });
    const h = harness({
      providers: [
        new ScriptedProvider(
          'a',
          scripted(
            chunk({ role: 'assistant', content: 'Let me check. ' }),
            chunk({
              tool_calls: [
                {
                  index: 0,
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'f', arguments: '{"a"' },
                },
              ],
            }),
            chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
            done('tool_calls'),
          ),
        ),
      ],
    });
    expect(await h.service.complete(context(), params())).toMatchObject({
      text: 'Let me check. ',
      toolCalls: [{ id: 'call_1', name: 'f', arguments: '{"a":1}' }],
    });
    const withLogprobs = harness({
      providers: [
        new ScriptedProvider(
          'a',
          scripted(chunk({ content: 'x' }, { logprobs: { content: [] } }), done()),
        ),
      ],
    });
    await expect(withLogprobs.service.complete(context(), params())).rejects.toThrow(
      /cannot be assembled/,
    );
  });
});

describe('metering a stream cut short', () => {
  it('adds up `tokens` on every kind of event', async () => {
    const client = new AbortController();
    const h = harness({
      providers: [
        new ScriptedProvider(
          'a',
          hangsAfter(
            { type: 'text', text: 'a', tokens: 1 },
            call(0, { id: 'c', name: 'f', tokens: 2 }),
            { type: 'refusal', text: 'r', tokens: 3 },
            {
              type: 'relay',
              data: { object: 'chat.completion.chunk', choices: [] },
              text: '',
              tokens: 4,
            },
          ),
        ),
      ],
    });
    const generation = await h.service.start(context(client.signal), params({ stream: true }));
    let seen = 0;
    await drain(
      (async function* () {
        for await (const event of generation.events) {
          seen += 1;
          if (seen === 4) client.abort();
          yield event;
        }
      })(),
    );
    expect(h.usage).toMatchObject([
      { outcome: 'cancelled', promptTokens: 7, completionTokens: 10 },
    ]);
  });
});
