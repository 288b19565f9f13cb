/**
 * The local provider with the bundled GGUF in llama.cpp. Nothing here depends on what the model
 * writes, only on properties that hold for any model: where a test needs text, it finds a seed
 * whose sample writes some (the same seed and parameters always sample the same tokens) and builds
 * its expectations from that text.
 */
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import type {
  GenerationEvent,
  GenerationInput,
  GenerationRequest,
  ModelProvider,
} from '../../../src/domain/ports.js';
import {
  createLocalProvider,
  LocalModelLoadError,
  type LocalModelSpec,
} from '../../../src/providers/local/index.js';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient } from '../../support/client.js';
import {
  BUNDLED_MODEL,
  BUNDLED_MODEL_PATH,
  bundledContextSize,
} from '../../support/local-model.js';
import { collect, expectAppError, within, type Collected } from './helpers.js';

/** The bundled model with the default two contexts. */
const MODEL = BUNDLED_MODEL;
/** The same file again under another name, with a single context. */
const SOLO = 'solo';

const PROMPT = 'river (noun):';

let provider: ModelProvider;
let contextSize: number;

beforeAll(async () => {
  contextSize = await bundledContextSize();
  provider = await createLocalProvider({
    models: [
      { name: MODEL, path: BUNDLED_MODEL_PATH, threads: 1, contexts: 2 },
      { name: SOLO, path: BUNDLED_MODEL_PATH, threads: 1, contexts: 1 },
    ],
    logger: silentLogger,
  });
});
afterAll(async () => {
  await provider?.close();
});

function request(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    model: MODEL,
    input: { kind: 'text', prompt: PROMPT },
    maxTokens: 16,
    temperature: 0,
    topP: 1,
    stop: [],
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function run(overrides: Partial<GenerationRequest> = {}): Promise<Collected> {
  const result = await collect(provider.generate(request(overrides)));
  if (result.error) throw result.error;
  return result;
}

const textOf = (result: Collected) => result.texts.join('');

/**
 * A seed whose sample writes `tokens` tokens (with at least `minChars` of visible text) before
 * any end of text, for these request settings.
 */
async function seedThatWrites(
  tokens: number,
  overrides: Partial<GenerationRequest> = {},
  { temperature = 1, minChars = 4 } = {},
): Promise<number> {
  for (let seed = 1; seed <= 40; seed += 1) {
    const result = await run({ ...overrides, temperature, seed, maxTokens: tokens });
    if (
      result.done?.usage.completionTokens === tokens &&
      textOf(result).trim().length >= minChars
    ) {
      return seed;
    }
  }
  throw new Error(`no seed from 1 to 40 writes ${tokens} tokens`);
}

/** A text prompt of exactly `tokens` tokens (`a a a …`, one token a word). */
function promptOfExactly(tokens: number): string {
  for (let words = 1; words <= 2 * tokens; words += 1) {
    const prompt = 'a' + ' a'.repeat(words - 1);
    const count = provider.countPromptTokens({ kind: 'text', prompt }, MODEL);
    if (count === tokens) return prompt;
    if (count > tokens) break;
  }
  throw new Error(`no prompt of "a"s is exactly ${tokens} tokens long`);
}

/** A text prompt of `min` to `max` tokens: a prefix of plain dictionary-like prose. */
function promptOfTokens(min: number, max: number): string {
  const words = 'a body of water that flows in a channel toward the sea or a lake and the'.split(
    ' ',
  );
  let prompt = '';
  for (let i = 0; i < 10 * max; i += 1) {
    prompt += (i === 0 ? '' : ' ') + words[i % words.length];
    const count = provider.countPromptTokens({ kind: 'text', prompt }, MODEL);
    if (count >= min && count <= max) return prompt;
    if (count > max) break;
  }
  throw new Error(`no prefix is ${min} to ${max} tokens long`);
}

describe('local provider (llama.cpp, bundled model)', () => {
  it('lists every loaded model as owned by local', () => {
    expect(provider.models()).toEqual([
      { id: MODEL, ownedBy: 'local', created: 0 },
      { id: SOLO, ownedBy: 'local', created: 0 },
    ]);
  });

  it('streams text pieces, then exactly one done', async () => {
    const seed = await seedThatWrites(12);
    const events: GenerationEvent[] = [];
    for await (const event of provider.generate(request({ temperature: 1, seed, maxTokens: 24 })))
      events.push(event);
    const done = events.at(-1);
    expect(done?.type).toBe('done');
    expect(events.filter((event) => event.type === 'done')).toHaveLength(1);
    const texts = events.slice(0, -1);
    expect(texts.length).toBeGreaterThan(0);
    for (const event of texts) {
      expect(event.type).toBe('text');
      if (event.type === 'text') expect(event.text).not.toBe('');
    }
    if (done?.type !== 'done') throw new Error('no done event');
    expect(done.usage.completionTokens).toBeGreaterThanOrEqual(12);
    expect(done.usage.completionTokens).toBeLessThanOrEqual(24);
    expect(done.finishReason).toBe(done.usage.completionTokens === 24 ? 'length' : 'stop');
  });

  it('honours max_tokens: a sample that goes on is cut at exactly max_tokens', async () => {
    const seed = await seedThatWrites(12);
    for (const maxTokens of [1, 5, 12]) {
      const result = await run({ temperature: 1, seed, maxTokens });
      expect(result.done).toMatchObject({
        finishReason: 'length',
        usage: { completionTokens: maxTokens },
      });
    }
    // Whatever the model does greedily, it never goes past max_tokens.
    const greedy = await run({ maxTokens: 7 });
    expect(greedy.done?.usage.completionTokens).toBeLessThanOrEqual(7);
    expect(greedy.done?.finishReason).toBe(
      greedy.done?.usage.completionTokens === 7 ? 'length' : 'stop',
    );
  });

  it('is deterministic at temperature 0, also across contexts', async () => {
    const first = await run({ maxTokens: 40 });
    // Two at once run on the two contexts.
    const [second, third] = await Promise.all([run({ maxTokens: 40 }), run({ maxTokens: 40 })]);
    for (const again of [second, third]) {
      expect(textOf(again)).toBe(textOf(first));
      expect(again.done).toEqual(first.done);
    }
  });

  it('samples the same text for the same seed, and not one text for every seed', async () => {
    const sample = (seed: number) => run({ temperature: 1, seed, maxTokens: 20 });
    const texts: string[] = [];
    for (let seed = 1; seed <= 8; seed += 1) texts.push(textOf(await sample(seed)));
    expect(textOf(await sample(3))).toBe(texts[2]);
    expect(textOf(await sample(7))).toBe(texts[6]);
    expect(new Set(texts).size).toBeGreaterThan(1);
  });

  it('ends at a stop sequence without releasing any of it', async () => {
    const seed = await seedThatWrites(24);
    const settings = { temperature: 1, seed, maxTokens: 24 };
    const full = textOf(await run(settings));
    // Stops taken from the middle of what this seed writes are certain to occur; the longer one
    // most likely spans tokens, so its start is held back until it is complete.
    const middle = Math.floor(full.length / 2);
    for (const stop of [full.slice(middle, middle + 2), full.slice(middle - 2, middle + 4)]) {
      const cut = await run({ ...settings, stop: ['never written \u0001', stop] });
      expect(cut.done?.finishReason).toBe('stop');
      // Every piece streamed is a prefix of the text before the stop: no part of it leaks.
      expect(textOf(cut)).toBe(full.slice(0, full.indexOf(stop)));
      expect(cut.done?.usage.completionTokens).toBeLessThanOrEqual(24);
    }
  });

  it('says on its text events how many tokens they took, for a stream cut short', async () => {
    const seed = await seedThatWrites(24);
    const events: GenerationEvent[] = [];
    for await (const event of provider.generate(request({ temperature: 1, seed, maxTokens: 24 }))) {
      events.push(event);
    }
    const texts = events.filter((event) => event.type === 'text');
    expect(texts.length).toBeGreaterThan(1);
    // Tokens a piece was held back for (half a character, a possible stop) count with it.
    const streamed = texts.reduce((sum, event) => sum + (event.tokens ?? 0), 0);
    expect(events.at(-1)).toMatchObject({ type: 'done', usage: { completionTokens: 24 } });
    expect(streamed).toBe(24);
  });

  it('counts prompt tokens exactly as the generation reports them', async () => {
    const inputs: GenerationInput[] = [
      { kind: 'text', prompt: PROMPT },
      { kind: 'text', prompt: 'The weather today is calm and the rivers are quiet.' },
      {
        kind: 'chat',
        messages: [
          { role: 'system', content: 'You define words.' },
          { role: 'user', content: 'river', name: 'ada' },
        ],
      },
    ];
    for (const input of inputs) {
      const result = await run({ input, maxTokens: 3 });
      expect(result.done?.usage.promptTokens).toBe(provider.countPromptTokens(input, MODEL));
      expect(result.done?.usage.promptTokens).toBeGreaterThan(1);
    }
  });

  it('refuses a prompt longer than the context, naming prompt or messages', async () => {
    const prompt = 'river '.repeat(contextSize);
    expect(provider.countPromptTokens({ kind: 'text', prompt }, SOLO)).toBeGreaterThanOrEqual(
      contextSize,
    );
    const text = await collect(
      provider.generate(request({ model: SOLO, input: { kind: 'text', prompt } })),
    );
    const error = expectAppError(text.error, 'VALIDATION_ERROR');
    expect(error.param).toBe('prompt');
    expect(error.details[0]?.issue).toContain(`reads at most ${contextSize - 1}`);
    expect(text.texts).toEqual([]);
    const chat = await collect(
      provider.generate(
        request({
          model: SOLO,
          input: { kind: 'chat', messages: [{ role: 'user', content: prompt }] },
        }),
      ),
    );
    expect(expectAppError(chat.error, 'VALIDATION_ERROR').param).toBe('messages');
    // SOLO has one context, and the refusals did not keep it.
    const next = await within(run({ model: SOLO }), 5000, 'a generation after refusals');
    expect(next.done).toBeDefined();
  });

  it('reads a prompt one token short of the context, and writes at most one token', async () => {
    const fits: GenerationInput = { kind: 'text', prompt: promptOfExactly(contextSize - 1) };
    const result = await run({ input: fits, maxTokens: 100 });
    expect(result.done?.usage.promptTokens).toBe(contextSize - 1);
    expect(result.done?.usage.completionTokens).toBeLessThanOrEqual(1);
    expect(result.done?.finishReason).toBe(
      result.done?.usage.completionTokens === 1 ? 'length' : 'stop',
    );
    const full = await collect(
      provider.generate(request({ input: { kind: 'text', prompt: promptOfExactly(contextSize) } })),
    );
    expect(expectAppError(full.error, 'VALIDATION_ERROR').param).toBe('prompt');
  });

  it('ends with length at the end of the context when max_tokens reaches past it', async () => {
    const input: GenerationInput = {
      kind: 'text',
      prompt: promptOfTokens(contextSize - 6, contextSize - 2),
    };
    const room = contextSize - provider.countPromptTokens(input, MODEL);
    const seed = await seedThatWrites(room, { input }, { temperature: 1.5, minChars: 0 });
    const result = await run({ input, temperature: 1.5, seed, maxTokens: 4096 });
    expect(result.done).toMatchObject({
      finishReason: 'length',
      usage: { promptTokens: contextSize - room, completionTokens: room },
    });
  });

  it('stops promptly when the signal aborts mid-stream, and frees the context', async () => {
    const seed = await seedThatWrites(16, { model: SOLO });
    const controller = new AbortController();
    const reason = new Error('client went away');
    let afterAbort = 0;
    const started = Date.now();
    const consume = async () => {
      for await (const event of provider.generate(
        request({ model: SOLO, temperature: 1, seed, maxTokens: 16, signal: controller.signal }),
      )) {
        if (controller.signal.aborted) afterAbort += 1;
        else if (event.type === 'text') controller.abort(reason);
      }
    };
    await expect(within(consume(), 5000, 'the aborted generation to end')).rejects.toBe(reason);
    expect(afterAbort).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    // SOLO has one context: this only runs if the aborted generation gave it back.
    const next = await within(run({ model: SOLO, maxTokens: 4 }), 5000, 'the next generation');
    expect(next.done).toBeDefined();
  });

  it('gives the context back when the consumer stops reading', async () => {
    const seed = await seedThatWrites(16, { model: SOLO });
    for await (const event of provider.generate(
      request({ model: SOLO, temperature: 1, seed, maxTokens: 16 }),
    )) {
      if (event.type === 'text') break;
    }
    const next = await within(run({ model: SOLO, maxTokens: 4 }), 5000, 'the next generation');
    expect(next.done).toBeDefined();
  });

  it('withdraws a generation aborted while it waits for a context', async () => {
    const seed = await seedThatWrites(16, { model: SOLO });
    const holder = provider.generate(request({ model: SOLO, temperature: 1, seed, maxTokens: 16 }));
    const iterator = holder[Symbol.asyncIterator]();
    await iterator.next(); // SOLO's only context is now held
    const controller = new AbortController();
    const reason = new Error('gave up waiting');
    const waiting = collect(provider.generate(request({ model: SOLO, signal: controller.signal })));
    controller.abort(reason);
    expect((await within(waiting, 5000, 'the withdrawn generation')).error).toBe(reason);
    await iterator.return?.();
    const next = await within(run({ model: SOLO, maxTokens: 4 }), 5000, 'the next generation');
    expect(next.done).toBeDefined();
  });

  it('queues generations beyond its contexts in arrival order, and finishes them all', async () => {
    const seed = await seedThatWrites(8, { model: SOLO });
    const order: string[] = [];
    const consume = async (name: string) => {
      const events = provider.generate(
        request({ model: SOLO, temperature: 1, seed, maxTokens: 8 }),
      );
      for await (const event of events) order.push(`${name}:${event.type}`);
    };
    await within(Promise.all(['a', 'b', 'c'].map(consume)), 15_000, 'three queued generations');
    // One context: each runs whole before the next starts.
    const names = order.map((entry) => entry.split(':')[0]);
    expect(names).toEqual([...names].sort());
    expect(order.filter((entry) => entry.endsWith(':done'))).toEqual([
      'a:done',
      'b:done',
      'c:done',
    ]);

    // Two contexts, five generations: all finish, each with the same text (same seed).
    const many = await within(
      Promise.all(Array.from({ length: 5 }, () => run({ temperature: 1, seed: 1, maxTokens: 12 }))),
      15_000,
      'five generations on two contexts',
    );
    for (const result of many) {
      expect(result.done).toEqual(many[0]?.done);
      expect(textOf(result)).toBe(textOf(many[0] as Collected));
    }
  });
});

describe('local provider start-up errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'local-llama-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function loadError(spec: LocalModelSpec): Promise<LocalModelLoadError> {
    const error: unknown = await createLocalProvider({ models: [spec], logger: silentLogger }).then(
      (loaded) => loaded.close().then(() => undefined),
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(LocalModelLoadError);
    return error as LocalModelLoadError;
  }

  it('names the model and the path of a missing file', async () => {
    const missing = path.join(dir, 'missing.gguf');
    const error = await loadError({ name: 'ghost', path: missing, threads: 1, contexts: 1 });
    expect(error.message).toContain('"ghost"');
    expect(error.message).toContain(missing);
    expect(error.message).toContain('ENOENT');
  });

  it('names the model and the path of a file that is not a GGUF model', async () => {
    const corrupt = path.join(dir, 'corrupt.gguf');
    await writeFile(corrupt, Buffer.from('this is not a GGUF file at all\n'.repeat(64)));
    const error = await loadError({ name: 'broken', path: corrupt, threads: 1, contexts: 1 });
    expect(error.message).toContain('"broken"');
    expect(error.message).toContain(corrupt);
    expect(error.message).toMatch(/not a loadable GGUF model/);
  });

  it('fails as a whole when a later model cannot load', async () => {
    const missing = path.join(dir, 'also-missing.gguf');
    const error: unknown = await createLocalProvider({
      models: [
        { name: MODEL, path: BUNDLED_MODEL_PATH, threads: 1, contexts: 1 },
        { name: 'ghost', path: missing, threads: 1, contexts: 1 },
      ],
      logger: silentLogger,
    }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(LocalModelLoadError);
    expect((error as Error).message).toContain(missing);
  });
});

describe('a second local model from the same GGUF, through the HTTP API', () => {
  let dir: string;
  let t: TestApp;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'local-llama-models-'));
    // A path relative to the routing table's own directory.
    await symlink(BUNDLED_MODEL_PATH, path.join(dir, 'wordnet.gguf'));
    const modelsFile = path.join(dir, 'models.yaml');
    await writeFile(
      modelsFile,
      [
        'models:',
        '  - id: wordnet-short',
        '    owned_by: local',
        '    targets:',
        '      - provider: local',
        '        model: wordnet-32',
        '        path: wordnet.gguf',
        '        context_size: 32',
        '        contexts: 1',
        '',
      ].join('\n'),
    );
    t = await startTestApp({ MODELS_FILE: modelsFile, RESPONSE_CACHE_TTL_SECONDS: '0' });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists it beside the built-in model and serves it with its own context size', async () => {
    const api = apiClient(t.app.http);
    const token = AUTH.authorization.slice('Bearer '.length);
    const models = (await api('GET', '/v1/models', { token })).json<{
      data: { id: string; owned_by: string }[];
    }>().data;
    expect(models.map((m) => [m.id, m.owned_by]).sort()).toEqual([
      [MODEL, 'local'],
      ['wordnet-short', 'local'],
    ]);

    // 40 tokens or so: too long for a context of 32, well within the bundled model's.
    const prompt = promptOfTokens(36, 44);
    const short = await api('POST', '/v1/completions', {
      token,
      body: { model: 'wordnet-short', prompt, max_tokens: 4 },
    });
    expect(short.status).toBe(422);
    // The local model's name in the routing table is not the client's business.
    expect(short.body).not.toContain('wordnet-32');
    expect(
      short.json<{ error: { param: string; details: { issue: string }[] } }>().error,
    ).toMatchObject({
      param: 'prompt',
      details: [{ issue: expect.stringContaining('reads at most 31') }],
    });
    const bundled = await api('POST', '/v1/completions', {
      token,
      body: { model: MODEL, prompt, max_tokens: 4 },
    });
    expect(bundled.status).toBe(200);

    // A short prompt is served, and max_tokens is bounded by the smaller context.
    const served = await api('POST', '/v1/completions', {
      token,
      body: { model: 'wordnet-short', prompt: PROMPT, max_tokens: 4096, temperature: 1.5 },
    });
    expect(served.status).toBe(200);
    const body = served.json<{
      model: string;
      usage: { prompt_tokens: number; completion_tokens: number };
      choices: { finish_reason: string }[];
    }>();
    expect(body.model).toBe('wordnet-short');
    const room = 32 - body.usage.prompt_tokens;
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(room);
    expect(body.choices[0]?.finish_reason).toBe(
      body.usage.completion_tokens === room ? 'length' : 'stop',
    );
  });
});
