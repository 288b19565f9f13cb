import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/domain/errors.js';
import { silentLogger } from '../../../../src/domain/logger.js';
import type { ModelProvider } from '../../../../src/domain/ports.js';
import { createLocalProvider, renderChat } from '../../../../src/providers/local/index.js';
import { collect, iterate, textRequest } from './helpers.js';

const PROMPT = 'A language model reads the prompt and then';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('local provider', () => {
  let provider: ModelProvider;

  beforeAll(() => {
    provider = createLocalProvider({ workers: 2, logger: silentLogger });
  });

  afterAll(async () => {
    await provider.close();
  });

  it('lists its one model', () => {
    expect(provider.models()).toEqual([
      { id: 'local-ngram', ownedBy: 'local', created: expect.any(Number) },
    ]);
  });

  it('is deterministic at temperature 0', async () => {
    const first = await collect(provider, textRequest(PROMPT));
    const second = await collect(provider, textRequest(PROMPT));
    expect(first.text.length).toBeGreaterThan(0);
    expect(second).toEqual(first);
  });

  it('gives the same sample for the same seed, and other samples for other seeds', async () => {
    const request = { temperature: 1, topP: 0.95, maxTokens: 48 };
    const first = await collect(provider, textRequest(PROMPT, { ...request, seed: 42 }));
    const again = await collect(provider, textRequest(PROMPT, { ...request, seed: 42 }));
    expect(again).toEqual(first);
    const others = await Promise.all(
      [1, 2, 3].map((seed) => collect(provider, textRequest(PROMPT, { ...request, seed }))),
    );
    expect(others.some((other) => other.text !== first.text)).toBe(true);
  });

  it('counts the prompt in tokenizer tokens', async () => {
    const result = await collect(provider, textRequest(PROMPT, { maxTokens: 1 }));
    expect(result.usage.promptTokens).toBe(encode(PROMPT).length);
  });

  it('never produces more than maxTokens', async () => {
    for (const maxTokens of [1, 2, 7]) {
      const result = await collect(provider, textRequest(PROMPT, { maxTokens }));
      expect(result.usage.completionTokens).toBeLessThanOrEqual(maxTokens);
      expect(result.pieces.length).toBeLessThanOrEqual(maxTokens);
    }
  });

  it('runs a long completion to exactly maxTokens and finishes with length', async () => {
    const result = await collect(provider, textRequest(PROMPT, { maxTokens: 500 }));
    expect(result.finishReason).toBe('length');
    expect(result.usage.completionTokens).toBe(500);
  });

  it('ends before a stop sequence taken from the greedy output', async () => {
    const full = await collect(provider, textRequest(PROMPT, { maxTokens: 80 }));
    // A whole piece from the middle of the output: it is certainly generated.
    const stop = full.pieces[10] as string;
    const expected = full.text.slice(0, full.text.indexOf(stop));

    const stopped = await collect(provider, textRequest(PROMPT, { maxTokens: 80, stop: [stop] }));
    expect(stopped.text).toBe(expected);
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.usage.completionTokens).toBeLessThan(full.usage.completionTokens);
  });

  it('ends before a stop sequence that spans several tokens', async () => {
    const full = await collect(provider, textRequest(PROMPT, { maxTokens: 80 }));
    // The end of piece 20 plus the start of piece 21: never a single token.
    const head = (full.pieces[20] as string).slice(-2);
    const tail = (full.pieces[21] as string).slice(0, 2);
    const stop = head + tail;
    const expected = full.text.slice(0, full.text.indexOf(stop));
    expect(expected.length).toBeGreaterThan(0);

    const stopped = await collect(
      provider,
      textRequest(PROMPT, { maxTokens: 80, stop: ['never appears', stop] }),
    );
    expect(stopped.text).toBe(expected);
    expect(stopped.finishReason).toBe('stop');
  });

  it('continues with the prompt’s own words', async () => {
    const prompt =
      'The quorbin is a small blue bird. A quorbin sings at dawn, and every quorbin builds a ' +
      'nest of moss. People who hear a quorbin feel calm.';
    const result = await collect(provider, textRequest(prompt, { maxTokens: 60 }));
    expect(result.text).toContain('quorbin');
  });

  it('answers a chat in one turn that ends on its own', async () => {
    const messages = [{ role: 'user' as const, content: 'Hello!' }];
    const result = await collect(provider, {
      ...textRequest('', { maxTokens: 200 }),
      input: { kind: 'chat', messages },
    });
    expect(result.finishReason).toBe('stop');
    expect(result.usage.completionTokens).toBeLessThan(200);
    expect(result.usage.promptTokens).toBe(encode(renderChat(messages)).length);
    expect(result.text).toMatch(/^\S/);
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('never yields broken characters', async () => {
    const prompt = 'Weather: 🌦️ 天気 ☔ 雨が降る。 '.repeat(6);
    for (const seed of [1, 2, 3]) {
      const result = await collect(
        provider,
        textRequest(prompt, { maxTokens: 120, temperature: 1.5, seed }),
      );
      for (const piece of result.pieces) {
        expect(piece).not.toContain('\uFFFD');
        expect(piece).not.toMatch(LONE_SURROGATE);
      }
    }
  });

  it('refuses a model it does not serve', async () => {
    const failure = collect(provider, textRequest(PROMPT, { model: 'gpt-4o' }));
    await expect(failure).rejects.toBeInstanceOf(AppError);
    await expect(failure).rejects.toMatchObject({ code: 'VALIDATION_ERROR', param: 'model' });
  });

  it('rejects at once when the request is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      collect(provider, textRequest(PROMPT, { signal: controller.signal })),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('local provider with one worker', () => {
  let provider: ModelProvider;

  beforeAll(() => {
    provider = createLocalProvider({ workers: 1, logger: silentLogger });
  });

  afterAll(async () => {
    await provider.close();
  });

  it('stops when the request is aborted and frees the worker', async () => {
    const controller = new AbortController();
    let pieces = 0;
    const run = async (): Promise<void> => {
      const request = textRequest(PROMPT, { maxTokens: 100_000, signal: controller.signal });
      for await (const event of provider.generate(request)) {
        if (event.type === 'text' && ++pieces === 5) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(pieces).toBeLessThan(100);

    const next = await collect(provider, textRequest(PROMPT, { maxTokens: 8 }));
    expect(next.usage.completionTokens).toBe(8);
  });

  it('frees the worker when the consumer stops iterating early', async () => {
    let pieces = 0;
    for await (const event of provider.generate(textRequest(PROMPT, { maxTokens: 100_000 }))) {
      if (event.type === 'text' && ++pieces === 3) break;
    }
    expect(pieces).toBe(3);

    const next = await collect(provider, textRequest(PROMPT, { maxTokens: 8 }));
    expect(next.finishReason).toBe('length');
  });

  it('queues concurrent requests and serves them in arrival order', async () => {
    const finished: number[] = [];
    const results = await Promise.all(
      [0, 1, 2].map(async (index) => {
        const result = await collect(provider, textRequest(PROMPT, { maxTokens: 200 }));
        finished.push(index);
        return result;
      }),
    );
    expect(finished).toEqual([0, 1, 2]);
    for (const result of results) expect(result.usage.completionTokens).toBe(200);
  });

  it('drops a queued request whose client went away', async () => {
    const first = iterate(provider, textRequest(PROMPT, { maxTokens: 100_000 }));
    await first.next(); // holds the only worker
    const controller = new AbortController();
    const queued = collect(provider, textRequest(PROMPT, { signal: controller.signal }));
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    await first.return?.();

    const next = await collect(provider, textRequest(PROMPT, { maxTokens: 4 }));
    expect(next.usage.completionTokens).toBe(4);
  });

  it('keeps the event loop responsive during a long generation', async () => {
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const result = await collect(provider, textRequest(PROMPT, { maxTokens: 4096 }));
    running = false;
    expect(result.usage.completionTokens).toBe(4096);
    expect(ticks).toBeGreaterThan(10);
  });
});

describe('closing the local provider', () => {
  it('rejects running and waiting requests, and later ones', async () => {
    const provider = createLocalProvider({ workers: 1, logger: silentLogger });
    const running = iterate(provider, textRequest(PROMPT, { maxTokens: 100_000 }));
    await running.next();
    const waiting = collect(provider, textRequest(PROMPT)).catch((error: unknown) => error);

    await provider.close();
    expect(await waiting).toMatchObject({ code: 'OVERLOADED' });
    await expect(drain(running)).rejects.toMatchObject({ code: 'OVERLOADED' });
    await expect(collect(provider, textRequest(PROMPT))).rejects.toMatchObject({
      code: 'OVERLOADED',
    });
  });
});

async function drain(iterator: AsyncIterator<unknown>): Promise<void> {
  for (;;) {
    const { done } = await iterator.next();
    if (done) return;
  }
}
