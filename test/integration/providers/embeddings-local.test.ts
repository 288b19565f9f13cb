/**
 * The local provider's embeddings with the bundled GGUF in llama.cpp. Nothing here depends on what
 * the vectors mean, only on what holds for any model: their size, their length, determinism, and
 * that input the model cannot read is refused before any evaluation.
 */
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  EmbeddingInput,
  EmbeddingProvider,
  EmbeddingRequest,
} from '../../../src/domain/inference/embeddings.js';
import { silentLogger } from '../../../src/domain/logger.js';
import type { ModelProvider } from '../../../src/domain/ports.js';
import { createLocalProvider } from '../../../src/providers/local/index.js';
import { BUNDLED_MODEL, BUNDLED_MODEL_PATH } from '../../support/local-model.js';
import { expectAppError } from './helpers.js';

/** The bundled model loaded for generation only. */
const CHAT_ONLY = 'chat-only';

let provider: ModelProvider;
let embeddings: EmbeddingProvider;
let size: number;
let vocabulary: number;

beforeAll(async () => {
  const info = await readGgufFileInfo(BUNDLED_MODEL_PATH, {
    readTensorInfo: false,
    logWarnings: false,
  });
  size = info.architectureMetadata.embedding_length as number;
  vocabulary = (info.metadata.tokenizer?.ggml?.tokens as unknown[] | undefined)?.length ?? 0;
  provider = await createLocalProvider({
    models: [
      { name: BUNDLED_MODEL, path: BUNDLED_MODEL_PATH, threads: 1, contexts: 1, embeddings: true },
      { name: CHAT_ONLY, path: BUNDLED_MODEL_PATH, threads: 1, contexts: 1 },
    ],
    logger: silentLogger,
  });
  if (!provider.embeddings) throw new Error('the local provider must embed');
  embeddings = provider.embeddings;
});
afterAll(async () => {
  await provider?.close();
});

function request(
  input: EmbeddingInput,
  overrides: Partial<EmbeddingRequest> = {},
): EmbeddingRequest {
  return {
    model: BUNDLED_MODEL,
    input,
    encodingFormat: 'float',
    body: {},
    signal: new AbortController().signal,
    ...overrides,
  };
}

const texts = (...values: string[]): EmbeddingInput => ({ kind: 'text', texts: values });

async function failure(run: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('local embeddings', () => {
  it('has a model whose header gives an embedding size and a vocabulary', () => {
    expect(size).toBeGreaterThan(0);
    expect(vocabulary).toBeGreaterThan(0);
  });

  it('answers one unit vector of the model size per input, the same every time', async () => {
    const first = await embeddings.embed(request(texts('river (noun)', 'bank (noun)')));
    const again = await embeddings.embed(request(texts('river (noun)', 'bank (noun)')));

    expect(first.object).toBe('list');
    expect(first.model).toBe(BUNDLED_MODEL);
    expect(first.data.map((item) => item.index)).toEqual([0, 1]);
    for (const item of first.data) {
      const vector = item.embedding as number[];
      expect(vector).toHaveLength(size);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    }
    expect(again.data).toEqual(first.data);
  });

  it('reports as usage the tokens it counted beforehand for the reservation', async () => {
    const input = texts('a body of water', 'river');
    const answer = await embeddings.embed(request(input));

    expect(answer.usage.prompt_tokens).toBe(embeddings.countTokens(input, BUNDLED_MODEL));
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens);
  });

  it('encodes base64 as the float32 bytes of the same vector', async () => {
    const float = await embeddings.embed(request(texts('river')));
    const base64 = await embeddings.embed(request(texts('river'), { encodingFormat: 'base64' }));

    const bytes = Buffer.from(base64.data[0]?.embedding as string, 'base64');
    expect(bytes.byteLength).toBe(size * 4);
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, size));
    expect(decoded).toEqual(Array.from(new Float32Array(float.data[0]?.embedding as number[])));
  });

  it('embeds token ids, the last id of the vocabulary included', async () => {
    const answer = await embeddings.embed(
      request({ kind: 'tokens', tokens: [[1, 2, 3], [vocabulary - 1]] }),
    );
    expect(answer.data).toHaveLength(2);
    expect(answer.data[1]?.embedding).toHaveLength(size);
  });

  it('refuses a token id past the vocabulary, naming input, when counting', async () => {
    const error = expectAppError(
      await failure(() =>
        embeddings.countTokens({ kind: 'tokens', tokens: [[1], [2, vocabulary]] }, BUNDLED_MODEL),
      ),
      'VALIDATION_ERROR',
    );
    expect(error.param).toBe('input');
    expect(error.details[0]?.issue).toContain(`Input 1 has token id ${vocabulary}`);
  });

  it('refuses an input longer than its context, naming input', async () => {
    const error = expectAppError(
      await failure(() => embeddings.embed(request(texts('short', 'river '.repeat(5000))))),
      'VALIDATION_ERROR',
    );
    expect(error.param).toBe('input');
    expect(error.details[0]?.issue).toMatch(/^Input 1 is \d+ tokens long/);
  });

  it('cannot shorten vectors', () => {
    expect(embeddings.dimensions).toBe(false);
  });

  it('refuses a model loaded without an embedding context, naming model', async () => {
    const error = expectAppError(
      await failure(() => embeddings.embed(request(texts('x'), { model: CHAT_ONLY }))),
      'VALIDATION_ERROR',
    );
    expect(error.param).toBe('model');
  });

  it('stops before the next input once the client has gone', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      embeddings.embed(request(texts('a', 'b'), { signal: controller.signal })),
    ).rejects.toBeDefined();
  });
});
