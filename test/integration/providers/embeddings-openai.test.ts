/**
 * The OpenAI-compatible provider's embeddings against a fake OpenAI API on a real socket: the
 * body goes as given, the answer comes back as sent, failures are the runtime's caller-safe ones.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type {
  EmbeddingInput,
  EmbeddingProvider,
  EmbeddingRequest,
} from '../../../src/domain/inference/embeddings.js';
import { createOpenAICompatibleProvider } from '../../../src/providers/openai-compatible/index.js';
import type { UpstreamModelProvider } from '../../../src/providers/shared/upstream-runtime.js';
import {
  FAKE_SECRET,
  fakeModes,
  startFakeOpenAI,
  type FakeUpstream,
} from '../../support/fake-upstreams/index.js';
import { fakeEmbedding } from '../../support/fake-upstreams/openai.js';
import { expectAppError, recordingLogger } from './helpers.js';

const KEY = 'sk-test-embeddings-key-123456';

let fake: FakeUpstream;
let provider: UpstreamModelProvider;
let embeddings: EmbeddingProvider;

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: KEY });
  provider = createOpenAICompatibleProvider({
    name: 'fake-openai',
    baseUrl: fake.url,
    apiKey: KEY,
    logger: recordingLogger(),
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
  if (!provider.embeddings) throw new Error('the OpenAI-compatible provider must embed');
  embeddings = provider.embeddings;
});
afterEach(() => fake.reset());
afterAll(async () => {
  await provider.close();
  await fake.close();
});

function request(
  body: Record<string, unknown>,
  overrides: Partial<EmbeddingRequest> = {},
): EmbeddingRequest {
  const input = body.input;
  const parsed: EmbeddingInput =
    typeof input === 'string'
      ? { kind: 'text', texts: [input] }
      : { kind: 'text', texts: input as string[] };
  return {
    model: 'text-embedding-3-small',
    input: parsed,
    encodingFormat: 'float',
    body: { ...body, model: 'text-embedding-3-small' },
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('OpenAI-compatible embeddings', () => {
  it('posts the body byte for byte as given, with the key, to /embeddings', async () => {
    const body = { input: ['a', 'b'], dimensions: 4, encoding_format: 'float', user: 'u-1' };
    const answer = await embeddings.embed(request(body));

    expect(fake.requests).toHaveLength(1);
    const received = fake.requests[0];
    expect(received?.path).toBe('/v1/embeddings');
    expect(received?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(received?.rawBody).toBe(JSON.stringify({ ...body, model: 'text-embedding-3-small' }));
    expect(answer.data.map((item) => item.embedding)).toEqual([
      fakeEmbedding(0, 4),
      fakeEmbedding(1, 4),
    ]);
    expect(answer.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
    expect(answer.model).toBe('text-embedding-3-small');
  });

  it('says it can shorten vectors (dimensions)', () => {
    expect(embeddings.dimensions).toBe(true);
  });

  it('stands in an estimate when the upstream reports no usage', async () => {
    fake.setMode({ includeUsage: false });
    const answer = await embeddings.embed(request({ input: 'one two three' }));

    const estimate = embeddings.countTokens({ kind: 'text', texts: ['one two three'] }, 'x');
    expect(estimate).toBeGreaterThan(0);
    expect(answer.usage).toEqual({ prompt_tokens: estimate, total_tokens: estimate });
  });

  it('counts token-id inputs as the ids given', () => {
    expect(embeddings.countTokens({ kind: 'tokens', tokens: [[1, 2, 3], [4]] }, 'x')).toBe(4);
  });

  it('retries a 500 and then answers', async () => {
    fake.setMode(fakeModes.failThenSucceed(1));
    const answer = await embeddings.embed(request({ input: 'x' }));

    expect(fake.requests).toHaveLength(2);
    expect(answer.data).toHaveLength(1);
  });

  it('turns a 400 into a caller-safe upstream error without retrying', async () => {
    fake.setMode(fakeModes.badRequest());
    const error = expectAppError(
      await failure(embeddings.embed(request({ input: 'x' }))),
      'UPSTREAM_ERROR',
    );

    expect(fake.requests).toHaveLength(1);
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(
      FAKE_SECRET,
    );
  });

  it('gives up with UPSTREAM_TIMEOUT when the upstream does not answer in time', async () => {
    fake.setMode(fakeModes.neverAnswer());
    expectAppError(
      await failure(embeddings.embed(request({ input: 'x' }, { timeoutMs: 300 }))),
      'UPSTREAM_TIMEOUT',
    );
  });

  it('stops when the client goes away', async () => {
    fake.setMode(fakeModes.neverAnswer());
    const controller = new AbortController();
    const pending = failure(
      embeddings.embed(request({ input: 'x' }, { signal: controller.signal })),
    );
    await fake.waitForRequests(1);
    controller.abort();

    await pending;
    await fake.requests[0]?.closed;
    expect(fake.requests[0]?.abortedByClient).toBe(true);
  });
});
