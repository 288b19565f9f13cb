/**
 * POST /v1/embeddings through the whole app: routed by the routing table's capabilities, forwarded
 * to an OpenAI-compatible upstream as the client sent it, served by the bundled model through
 * llama.cpp's embedding context, rate-limited and metered by input tokens.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { createContractChecker } from '../../support/contract.js';
import {
  fakeModes,
  startFakeOpenAI,
  type FakeUpstream,
} from '../../support/fake-upstreams/index.js';
import { fakeEmbedding } from '../../support/fake-upstreams/openai.js';
import { BUNDLED_MODEL_PATH } from '../../support/local-model.js';
import { createKey, createTenant } from '../../support/tenant.js';

const OPENAI_KEY = 'sk-upstream-openai-key-for-embeddings';
const token = AUTH.authorization.slice('Bearer '.length);

let openai: FakeUpstream;
let t: TestApp;
let api: Api;
let dir: string;

beforeAll(async () => {
  openai = await startFakeOpenAI({ apiKey: OPENAI_KEY });
  dir = await mkdtemp(path.join(tmpdir(), 'inference-api-embeddings-'));
  const modelsFile = path.join(dir, 'models.yaml');
  await writeFile(
    modelsFile,
    [
      'models:',
      '  - id: embed-small',
      '    capabilities:',
      '      completions: false',
      '      embeddings: true',
      '    targets:',
      '      - provider: openai',
      '        model: text-embedding-3-small',
      '  - id: embed-failover',
      '    capabilities: { completions: false, embeddings: true }',
      '    targets:',
      '      - provider: openai',
      '        model: embed-primary',
      '    fallbacks:',
      '      - provider: openai',
      '        model: embed-backup',
      '  - id: chat-only',
      '    targets:',
      '      - provider: openai',
      '        model: gpt-x',
      '  - id: chat-declared',
      '    capabilities:',
      '      tools: true',
      '      vision: false',
      '      json_schema: true',
      '      context_window: 128000',
      '    targets:',
      '      - provider: openai',
      '        model: gpt-y',
      '',
    ].join('\n'),
  );
  t = await startTestApp({
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: OPENAI_KEY,
    MODELS_FILE: modelsFile,
    RESPONSE_CACHE_TTL_SECONDS: '0',
  });
  api = apiClient(t.app.http);
});
afterAll(async () => {
  await t?.close();
  await openai?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  openai.reset();
});

interface EmbeddingList {
  object: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

async function bundledEmbeddingSize(): Promise<number> {
  const info = await readGgufFileInfo(BUNDLED_MODEL_PATH, {
    readTensorInfo: false,
    logWarnings: false,
  });
  const size = info.architectureMetadata.embedding_length;
  if (typeof size !== 'number') throw new Error(`${BUNDLED_MODEL_PATH} has no embedding_length`);
  return size;
}

const embed = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  api('POST', '/v1/embeddings', { token, body, headers });

function decodeBase64(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  return Array.from(
    new Float32Array(
      bytes.buffer,
      bytes.byteOffset,
      bytes.byteLength / Float32Array.BYTES_PER_ELEMENT,
    ),
  );
}

describe('POST /v1/embeddings to an OpenAI-compatible upstream', () => {
  it.each([
    ['a string', 'The river bank'],
    ['an array of strings', ['river', 'bank of the river']],
    ['an array of token ids', [101, 2054, 102]],
    ['an array of token-id arrays', [[101, 2054], [7], [3, 4, 5]]],
  ])('forwards %s as sent, with only the model rewritten', async (_, input) => {
    const body = { model: 'embed-small', input, encoding_format: 'float', user: 'end-user-7' };
    const res = await embed(body);

    expect(res.status).toBe(200);
    expect(openai.requests).toHaveLength(1);
    const received = openai.requests[0];
    expect(received?.path).toBe('/v1/embeddings');
    expect(received?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(received?.body).toEqual({ ...body, model: 'text-embedding-3-small' });

    const answer = res.json<EmbeddingList>();
    const count = typeof input === 'string' || typeof input[0] === 'number' ? 1 : input.length;
    expect(answer.object).toBe('list');
    expect(answer.model).toBe('embed-small');
    expect(answer.data.map((item) => item.index)).toEqual([...Array(count).keys()]);
    answer.data.forEach((item, index) => {
      expect(item.object).toBe('embedding');
      expect(item.embedding).toEqual(fakeEmbedding(index));
    });
  });

  it('forwards dimensions and base64, and relays the vectors the upstream sent', async () => {
    const body = {
      model: 'embed-small',
      input: ['a', 'b'],
      encoding_format: 'base64',
      dimensions: 3,
    };
    const res = await embed(body);

    expect(res.status).toBe(200);
    expect(openai.requests[0]?.body).toEqual({ ...body, model: 'text-embedding-3-small' });
    const answer = res.json<EmbeddingList>();
    answer.data.forEach((item, index) => {
      expect(typeof item.embedding).toBe('string');
      expect(decodeBase64(item.embedding as string)).toEqual(fakeEmbedding(index, 3));
    });
  });

  it('leaves out fields the client left out (no encoding_format default is added)', async () => {
    const res = await embed({ model: 'embed-small', input: 'plain' });

    expect(res.status).toBe(200);
    expect(openai.requests[0]?.body).toEqual({ model: 'text-embedding-3-small', input: 'plain' });
    expect(res.json<EmbeddingList>().data[0]?.embedding).toEqual(fakeEmbedding(0));
  });

  it('meters the input tokens the upstream reported, once, as endpoint embeddings', async () => {
    const res = await embed(
      { model: 'embed-small', input: ['one two three', 'four five'] },
      { 'x-request-id': 'embeddings-metered-1' },
    );

    expect(res.status).toBe(200);
    expect(res.json<EmbeddingList>().usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    await t.app.flushUsage();
    const record = await t.app.storage.usage.findByRequestId('embeddings-metered-1');
    expect(record).toMatchObject({
      model: 'embed-small',
      endpoint: 'embeddings',
      promptTokens: 5,
      completionTokens: 0,
      outcome: 'completed',
      stream: false,
    });
  });

  it('carries the rate-limit headers', async () => {
    const res = await embed({ model: 'embed-small', input: 'x' });

    expect(res.status).toBe(200);
    expect(Number(res.headers['x-ratelimit-limit'])).toBeGreaterThan(0);
    expect(Number(res.headers['x-ratelimit-remaining'])).toBeGreaterThanOrEqual(0);
    expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000 - 1);
  });

  it('falls back to the next row when the upstream fails', async () => {
    openai.setMode(fakeModes.failThenSucceed(100), { model: 'embed-primary' });
    const res = await embed({ model: 'embed-failover', input: 'x' });

    expect(res.status).toBe(200);
    const models = openai.requests.map((request) => request.body?.model);
    expect(models.at(-1)).toBe('embed-backup');
    expect(models).toContain('embed-primary');
    expect(res.json<EmbeddingList>().model).toBe('embed-failover');
  });

  it('answers 502 when every row fails, and meters a failed request with no tokens', async () => {
    openai.setMode(fakeModes.failThenSucceed(100));
    const res = await embed({ model: 'embed-small', input: 'x' }, { 'x-request-id': 'emb-fail-1' });

    expect(res.status).toBe(502);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('UPSTREAM_ERROR');
    await t.app.flushUsage();
    const record = await t.app.storage.usage.findByRequestId('emb-fail-1');
    expect(record).toMatchObject({ endpoint: 'embeddings', outcome: 'failed', promptTokens: 0 });
  });

  it('replays an answer for the same Idempotency-Key without asking the upstream again', async () => {
    const headers = { 'idempotency-key': 'embeddings-idem-1' };
    const first = await embed({ model: 'embed-small', input: 'same' }, headers);
    const second = await embed({ model: 'embed-small', input: 'same' }, headers);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toBe(first.body);
    expect(openai.requests).toHaveLength(1);
  });
});

describe('rate limits', () => {
  it('reserves the input tokens against the key: over its tokens per minute is a 429', async () => {
    const tenant = await createTenant(api, 'embeddings-limited');
    const key = await createKey(api, tenant, { requests_per_minute: 100, tokens_per_minute: 10 });
    const res = await api('POST', '/v1/embeddings', {
      token: key,
      body: {
        model: 'embed-small',
        input: 'one two three four five six seven eight nine ten eleven twelve',
      },
    });

    expect(res.status).toBe(429);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.headers['x-ratelimit-limit']).toBeDefined();
    expect(openai.requests).toHaveLength(0);
  });
});

describe('which models embed', () => {
  it('refuses a chat-only model, naming model, before anything is sent', async () => {
    const res = await embed({ model: 'chat-only', input: 'x' });

    expect(res.status).toBe(422);
    expect(res.json<{ error: { param: string } }>().error.param).toBe('model');
    expect(openai.requests).toHaveLength(0);
  });

  it('refuses an embeddings-only model on chat and text completions, naming model', async () => {
    const chat = await api('POST', '/v1/chat/completions', {
      token,
      body: { model: 'embed-small', messages: [{ role: 'user', content: 'hi' }] },
    });
    const text = await api('POST', '/v1/completions', {
      token,
      body: { model: 'embed-small', prompt: 'hi' },
    });

    for (const res of [chat, text]) {
      expect(res.status).toBe(422);
      expect(res.json<{ error: { param: string } }>().error.param).toBe('model');
    }
    expect(openai.requests).toHaveLength(0);
  });

  it('refuses an unknown model, naming model', async () => {
    const res = await embed({ model: 'no-such-model', input: 'x' });

    expect(res.status).toBe(422);
    expect(res.json<{ error: { param: string } }>().error.param).toBe('model');
  });
});

interface ErrorBody {
  error: { code: string; param: string; details: { field: string; issue: string }[] };
}

describe('bad input', () => {
  const tooMany = Array.from({ length: 2049 }, (_, i) => `text ${i}`);
  it.each<[string, Record<string, unknown>, string]>([
    ['an empty string', { model: 'embed-small', input: '' }, 'input'],
    ['an empty array', { model: 'embed-small', input: [] }, 'input'],
    ['an empty string in an array', { model: 'embed-small', input: ['a', ''] }, 'input'],
    ['an empty token array', { model: 'embed-small', input: [[1, 2], []] }, 'input'],
    ['more inputs than the batch bound', { model: 'embed-small', input: tooMany }, 'input'],
    ['a negative token id', { model: 'embed-small', input: [1, -2] }, 'input'],
    ['a fractional token id', { model: 'embed-small', input: [1, 2.5] }, 'input'],
    ['strings mixed with token ids', { model: 'embed-small', input: ['a', 1] }, 'input'],
    ['a NUL character', { model: 'embed-small', input: 'a\u0000b' }, 'input'],
    ['no input', { model: 'embed-small' }, 'input'],
    ['no model', { input: 'x' }, 'model'],
    [
      'an unknown encoding',
      { model: 'embed-small', input: 'x', encoding_format: 'int8' },
      'encoding_format',
    ],
    ['dimensions 0', { model: 'embed-small', input: 'x', dimensions: 0 }, 'dimensions'],
    ['an unknown field', { model: 'embed-small', input: 'x', truncate: 'END' }, 'truncate'],
    [
      'dimensions the built-in model cannot honour',
      { model: 'tiny-wordnet', input: 'x', dimensions: 4 },
      'dimensions',
    ],
    [
      'a token id outside the vocabulary',
      { model: 'tiny-wordnet', input: [1, 2_000_000_000] },
      'input',
    ],
  ])('refuses %s naming the field, sending and metering nothing', async (_, body, field) => {
    const requestId = `emb-bad-${field}-${Math.random().toString(36).slice(2)}`;
    const res = await embed(body, { 'x-request-id': requestId });

    expect(res.status).toBe(422);
    const { error } = res.json<ErrorBody>();
    expect(error.code).toBe('VALIDATION_ERROR');
    // The field itself or a place inside it (`input[1]`): which one is the validator's choice.
    expect(error.param === field || error.param.startsWith(`${field}[`), error.param).toBe(true);
    expect(openai.requests).toHaveLength(0);
    await t.app.flushUsage();
    expect(await t.app.storage.usage.findByRequestId(requestId)).toBeNull();
  });

  it('refuses a viewer, whose role cannot create completions', async () => {
    const viewer = await createTenant(api, 'embeddings-viewer', 'viewer');
    const res = await api('POST', '/v1/embeddings', {
      token: viewer.accessToken,
      body: { model: 'embed-small', input: 'x' },
    });

    expect(res.status).toBe(403);
    expect(openai.requests).toHaveLength(0);
  });
});

describe('the built-in model embeds through llama.cpp', () => {
  it("answers one unit vector per input, of the model's embedding size", async () => {
    const size = await bundledEmbeddingSize();
    const res = await embed({ model: 'tiny-wordnet', input: ['river (noun)', 'bank (noun)'] });

    expect(res.status).toBe(200);
    const answer = res.json<EmbeddingList>();
    expect(answer.model).toBe('tiny-wordnet');
    expect(answer.data.map((item) => item.index)).toEqual([0, 1]);
    for (const item of answer.data) {
      const vector = item.embedding as number[];
      expect(vector).toHaveLength(size);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    }
    expect(answer.data[0]?.embedding).not.toEqual(answer.data[1]?.embedding);
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens);
  });

  it('gives the same vector as base64 float32 bytes', async () => {
    const float = await embed({ model: 'tiny-wordnet', input: 'river (noun)' });
    const base64 = await embed({
      model: 'tiny-wordnet',
      input: 'river (noun)',
      encoding_format: 'base64',
    });

    const vector = float.json<EmbeddingList>().data[0]?.embedding as number[];
    const encoded = base64.json<EmbeddingList>().data[0]?.embedding;
    expect(typeof encoded).toBe('string');
    expect(decodeBase64(encoded as string)).toEqual(Array.from(new Float32Array(vector)));
  });

  it('embeds token ids like the text they spell', async () => {
    const text = await embed({ model: 'tiny-wordnet', input: 'river' });
    const ids = await embed({ model: 'tiny-wordnet', input: [1, 2, 3] });

    expect(text.status).toBe(200);
    expect(ids.status).toBe(200);
    expect(ids.json<EmbeddingList>().data[0]?.embedding).toHaveLength(
      (text.json<EmbeddingList>().data[0]?.embedding as number[]).length,
    );
  });

  it('meters the tokens it read and refuses an input longer than its context', async () => {
    const res = await embed(
      { model: 'tiny-wordnet', input: 'river bank' },
      { 'x-request-id': 'emb-local-1' },
    );
    expect(res.status).toBe(200);
    await t.app.flushUsage();
    expect(await t.app.storage.usage.findByRequestId('emb-local-1')).toMatchObject({
      endpoint: 'embeddings',
      model: 'tiny-wordnet',
      promptTokens: res.json<EmbeddingList>().usage.prompt_tokens,
      outcome: 'completed',
    });

    const long = await embed({ model: 'tiny-wordnet', input: 'river '.repeat(5000) });
    expect(long.status).toBe(422);
    expect(long.json<ErrorBody>().error.param).toBe('input');
  });
});

describe('GET /v1/models shows what each model can do', () => {
  interface ModelBody {
    id: string;
    capabilities?: Record<string, unknown>;
  }

  it('lists capabilities per model, as declared in MODELS_FILE', async () => {
    const res = await api('GET', '/v1/models?limit=100', { token });
    expect(res.status).toBe(200);
    const byId = new Map(res.json<{ data: ModelBody[] }>().data.map((m) => [m.id, m]));

    expect(byId.get('tiny-wordnet')?.capabilities).toEqual({ completions: true, embeddings: true });
    expect(byId.get('embed-small')?.capabilities).toEqual({ completions: false, embeddings: true });
    expect(byId.get('chat-only')?.capabilities).toEqual({ completions: true, embeddings: false });
    expect(byId.get('chat-declared')?.capabilities).toEqual({
      completions: true,
      embeddings: false,
      tools: true,
      vision: false,
      json_schema: true,
      context_window: 128_000,
    });
  });

  it('shows them on a single model too', async () => {
    const res = await api('GET', '/v1/models/chat-declared', { token });
    expect(res.status).toBe(200);
    expect(res.json<ModelBody>().capabilities).toMatchObject({
      json_schema: true,
      context_window: 128_000,
    });
  });
});

describe('responses match openapi/openapi.yaml', () => {
  const contract = createContractChecker();

  it.each<[string, Record<string, unknown>]>([
    ['local float', { model: 'tiny-wordnet', input: ['a', 'b'] }],
    ['local base64', { model: 'tiny-wordnet', input: 'a', encoding_format: 'base64' }],
    ['upstream float', { model: 'embed-small', input: [[1, 2], [3]] }],
    ['upstream base64', { model: 'embed-small', input: 'a', encoding_format: 'base64' }],
    ['a refusal', { model: 'chat-only', input: 'a' }],
    ['a bad input', { model: 'embed-small', input: [] }],
  ])('%s', async (_, body) => {
    const res = await embed(body);
    contract.response('POST', '/v1/embeddings', res.status, res.json());
  });

  it('models with declared capabilities', async () => {
    const list = await api('GET', '/v1/models?limit=100', { token });
    contract.response('GET', '/v1/models', list.status, list.json());
    const one = await api('GET', '/v1/models/chat-declared', { token });
    contract.response('GET', '/v1/models/{id}', one.status, one.json());
  });
});
