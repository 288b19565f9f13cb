import { describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/domain/errors.js';
import { ScriptedProvider, failsAfter, failsWith } from '../../routing/scripted-provider.js';
import {
  USAGE,
  context,
  done,
  drain,
  hangsAfter,
  harness,
  params,
  scripted,
  settledWork,
  type Harness,
} from './harness.js';

const hello = () =>
  scripted(
    { type: 'text', text: 'Hel', tokens: 1 },
    { type: 'text', text: 'lo', tokens: 1 },
    done(),
  );

/** Every slot back, every reservation settled: nothing a finished request may still hold. */
async function expectNothingHeld(h: Harness) {
  await settledWork();
  expect(h.gate.stats()).toEqual({ active: 0, queued: 0 });
  expect(h.store.settled).toHaveLength(h.store.reserved.length);
}

describe('a completed generation', () => {
  it.each([false, true])(
    'is metered once, then answered from the cache (stream: %s)',
    async (stream) => {
      const provider = new ScriptedProvider('a', hello());
      const h = harness({ providers: [provider] });
      const first = await h.service.start(context(), params({ stream }));
      expect(first.cache).toBe('miss');
      expect((await drain(first.events)).seen.map((e) => e.type)).toEqual(['text', 'text', 'done']);
      const again = await h.service.complete(context(), params({ stream }));
      expect(again).toMatchObject({
        cache: 'hit',
        text: 'Hello',
        finishReason: 'stop',
        usage: USAGE,
      });
      expect(provider.calls).toHaveLength(1);
      expect(h.usage.map((u) => [u.outcome, u.promptTokens, u.completionTokens, u.stream])).toEqual(
        [
          ['completed', 5, 3, stream],
          ['completed', 5, 3, stream],
        ],
      );
      expect(h.finished.map((f) => f.cache)).toEqual(['miss', 'hit']);
      // Only the generated answer held a reservation; the hit held nothing.
      expect(h.store.reserved).toEqual([7 + 16]);
      expect(h.store.settled).toEqual([8]);
      expect(h.attempts.map((a) => a.outcome)).toEqual(['completed']);
      await expectNothingHeld(h);
    },
  );

  it('streams a hit as the events a generation would have produced', async () => {
    const h = harness({ providers: [new ScriptedProvider('a', hello())] });
    await h.service.complete(context(), params());
    const hit = await h.service.start(context(), params({ stream: true }));
    expect(hit.cache).toBe('hit');
    expect((await drain(hit.events)).seen).toEqual([{ type: 'text', text: 'Hello' }, done()]);
  });

  it('bypasses the cache when sampled or asked to, and says so', async () => {
    const provider = new ScriptedProvider('a', hello());
    const h = harness({ providers: [provider] });
    for (const p of [params({ temperature: 0.7 }), params({ cacheMode: 'bypass' })]) {
      expect((await h.service.complete(context(), p)).cache).toBe('bypass');
      expect((await h.service.complete(context(), p)).cache).toBe('bypass');
    }
    expect(provider.calls).toHaveLength(4);
    expect(h.cacheSets).toEqual([]);
  });

  it('meters a hit the consumer stops reading as cancelled, once', async () => {
    const h = harness({ providers: [new ScriptedProvider('a', hello())] });
    await h.service.complete(context(), params());
    const hit = await h.service.start(context(), params({ stream: true }));
    for await (const _event of hit.events) break;
    expect(h.usage.map((u) => u.outcome)).toEqual(['completed', 'cancelled']);
  });
});

describe('a cancelled generation', () => {
  it('is metered on its prompt and the tokens it streamed when the client leaves mid-stream', async () => {
    const client = new AbortController();
    const h = harness({
      providers: [
        new ScriptedProvider(
          'a',
          hangsAfter(
            { type: 'text', text: 'a', tokens: 2 },
            { type: 'text', text: 'b', tokens: 3 },
          ),
        ),
      ],
    });
    const generation = await h.service.start(context(client.signal), params({ stream: true }));
    const seen: string[] = [];
    const result = drain(
      (async function* () {
        for await (const event of generation.events) {
          if (event.type === 'text') seen.push(event.text);
          if (seen.length === 2) client.abort();
          yield event;
        }
      })(),
    );
    await result;
    expect(seen).toEqual(['a', 'b']);
    expect(h.usage).toMatchObject([{ outcome: 'cancelled', promptTokens: 7, completionTokens: 5 }]);
    expect(h.finished).toMatchObject([{ outcome: 'cancelled', cache: 'miss' }]);
    expect(h.attempts.map((a) => a.outcome)).toEqual(['cancelled']);
    expect(h.store.settled).toEqual([12]);
    await expectNothingHeld(h);
  });

  it('ends the run when the consumer stops reading, without the client leaving', async () => {
    const h = harness({ providers: [new ScriptedProvider('a', hello())] });
    const generation = await h.service.start(
      context(),
      params({ stream: true, cacheMode: 'bypass' }),
    );
    for await (const _event of generation.events) break;
    expect(h.usage).toMatchObject([{ outcome: 'cancelled', promptTokens: 7, completionTokens: 1 }]);
    expect(h.cacheSets).toEqual([]);
    await expectNothingHeld(h);
  });

  it('gives everything back when the client leaves before the stream is read at all', async () => {
    const client = new AbortController();
    let stopped = false;
    const h = harness({
      providers: [
        new ScriptedProvider('a', async function* () {
          try {
            yield { type: 'text', text: 'x', tokens: 1 };
            yield done();
          } finally {
            stopped = true;
          }
        }),
      ],
    });
    await h.service.start(context(client.signal), params({ stream: true }));
    expect(h.gate.stats().active).toBe(1);
    client.abort();
    await settledWork();
    expect(stopped).toBe(true);
    expect(h.usage).toMatchObject([{ outcome: 'cancelled', promptTokens: 7, completionTokens: 1 }]);
    expect(h.attempts.map((a) => a.outcome)).toEqual(['cancelled']);
    await expectNothingHeld(h);
  });

  it('rejects a non-streamed request whose client leaves, metered as cancelled', async () => {
    const client = new AbortController();
    const h = harness({
      providers: [
        new ScriptedProvider('a', async function* (request) {
          yield { type: 'text', text: 'x', tokens: 1 };
          client.abort();
          throw request.signal.reason;
        }),
      ],
    });
    await expect(h.service.complete(context(client.signal), params())).rejects.toBeInstanceOf(
      AppError,
    );
    expect(h.usage).toMatchObject([
      { outcome: 'cancelled', promptTokens: 7, completionTokens: 1, stream: false },
    ]);
    await expectNothingHeld(h);
  });
});

describe('a failed generation', () => {
  it.each([false, true])(
    'before any event is an error from start, metered as nothing (stream: %s)',
    async (stream) => {
      const h = harness({
        providers: [new ScriptedProvider('a', failsWith(new AppError('UPSTREAM_ERROR')))],
      });
      await expect(h.service.start(context(), params({ stream }))).rejects.toMatchObject({
        code: 'UPSTREAM_ERROR',
      });
      expect(h.usage).toMatchObject([
        { outcome: 'failed', promptTokens: 0, completionTokens: 0, stream },
      ]);
      expect(h.finished).toMatchObject([{ outcome: 'failed' }]);
      expect(h.attempts.map((a) => [a.outcome, a.errorCode])).toEqual([
        ['failed', 'UPSTREAM_ERROR'],
      ]);
      expect(h.store.settled).toEqual([0]);
      await expectNothingHeld(h);
    },
  );

  it('falls back before the first event and serves from the next row', async () => {
    const h = harness({
      providers: [
        new ScriptedProvider('a', failsWith(new AppError('UPSTREAM_TIMEOUT'))),
        new ScriptedProvider('b', hello()),
      ],
    });
    expect((await h.service.complete(context(), params())).text).toBe('Hello');
    expect(h.attempts.map((a) => [a.provider, a.outcome, a.fallback])).toEqual([
      ['a', 'failed_over', false],
      ['b', 'completed', true],
    ]);
    expect(h.usage).toMatchObject([{ outcome: 'completed' }]);
  });

  it('mid-stream reaches the reader after the text, metered on what was streamed, never cached', async () => {
    const h = harness({
      providers: [
        new ScriptedProvider('a', failsAfter(['The', ' quick'], new AppError('UPSTREAM_ERROR'))),
      ],
    });
    // failsAfter's text events carry no token counts; the prompt is still charged.
    const generation = await h.service.start(context(), params({ stream: true }));
    const { seen, error } = await drain(generation.events);
    expect(seen).toHaveLength(2);
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(h.usage).toMatchObject([{ outcome: 'failed', promptTokens: 7, completionTokens: 0 }]);
    expect(h.attempts.map((a) => a.outcome)).toEqual(['failed']);
    await expect(h.service.complete(context(), params())).rejects.toMatchObject({
      code: 'UPSTREAM_ERROR',
    });
    expect(h.cacheSets).toEqual([]);
    await expectNothingHeld(h);
  });

  it('is what an answer ending without `done` is, when nobody aborted it', async () => {
    const h = harness({
      providers: [new ScriptedProvider('a', scripted({ type: 'text', text: 'cut', tokens: 4 }))],
    });
    await expect(h.service.complete(context(), params())).rejects.toMatchObject({
      code: 'UPSTREAM_ERROR',
    });
    expect(h.usage).toMatchObject([{ outcome: 'failed', promptTokens: 7, completionTokens: 4 }]);
    expect(h.cacheSets).toEqual([]);
  });

  it('wraps an error that is not an AppError as INTERNAL_ERROR', async () => {
    const h = harness({ providers: [new ScriptedProvider('a', failsWith(new TypeError('bug')))] });
    await expect(h.service.complete(context(), params())).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
    });
    expect(h.usage).toMatchObject([{ outcome: 'failed' }]);
  });
});

describe('a refused generation', () => {
  it.each([false, true])(
    'is the provider rejecting the input: a client error, neither metered nor charged (stream: %s)',
    async (stream) => {
      const refusal = new AppError('VALIDATION_ERROR', { message: 'prompt too long' });
      const h = harness({
        providers: [
          new ScriptedProvider('a', failsWith(refusal)),
          new ScriptedProvider('b', hello()),
        ],
      });
      await expect(h.service.start(context(), params({ stream }))).rejects.toBe(refusal);
      expect(h.providers[1]?.calls).toEqual([]);
      expect(h.usage).toEqual([]);
      expect(h.finished).toEqual([]);
      expect(h.store.settled).toEqual([0]);
      await expectNothingHeld(h);
    },
  );

  it('is a limit or a full gate before anything is sent', async () => {
    const provider = new ScriptedProvider('a', hangsAfter({ type: 'text', text: 'x' }));
    const tight = harness({ providers: [provider], tokensPerMinute: 10 });
    await expect(tight.service.start(context(), params())).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    const full = harness({ providers: [provider], maxConcurrent: 1 });
    const client = new AbortController();
    await full.service.start(context(client.signal), params({ stream: true, cacheMode: 'bypass' }));
    await expect(
      full.service.start(context(), params({ cacheMode: 'bypass' })),
    ).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(provider.calls).toHaveLength(1);
    client.abort();
    await settledWork();
    expect(full.gate.stats().active).toBe(0);
    expect(tight.usage).toEqual([]);
  });
});
