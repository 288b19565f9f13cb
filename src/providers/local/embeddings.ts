import type { Token } from 'node-llama-cpp';
import { validationError } from '../../domain/errors.js';
import type {
  EmbeddingInput,
  EmbeddingItem,
  EmbeddingRequest,
  EmbeddingResponse,
} from '../../domain/inference/embeddings.js';
import type { LocalModel } from './local-model.js';

/**
 * Each input as the tokens llama.cpp will read (beginning and end markers included), refused
 * before any evaluation when it cannot be read: an id outside the vocabulary would index past the
 * model's tables, and a longer input than the context does not fit.
 */
export function embeddingTokens(local: LocalModel, input: EmbeddingInput): Token[][] {
  const context = local.embeddingContext;
  if (!context) {
    // The routing table decides which local models embed; this one was loaded for generation only.
    throw validationError('model', 'This model is not loaded for embeddings');
  }
  const vocabulary = local.vocabularySize;
  const raw: Token[][] =
    input.kind === 'text'
      ? input.texts.map((text) => local.model.tokenize(text))
      : input.tokens.map((ids, index) => {
          const bad = ids.find((id) => id >= vocabulary);
          if (bad !== undefined) {
            throw validationError(
              'input',
              `Input ${index} has token id ${bad}; the model's vocabulary has ids 0 to ${vocabulary - 1}`,
            );
          }
          return ids as Token[];
        });
  return raw.map((tokens, index) => {
    // node-llama-cpp adds the markers in place, so it gets a copy.
    const copy = [...tokens];
    const length = context.calculateInputLength(copy);
    if (length >= local.contextSize) {
      throw validationError(
        'input',
        `Input ${index} is ${length} tokens long; the model reads at most ${local.contextSize - 1}`,
      );
    }
    return copy;
  });
}

/**
 * Vectors from llama.cpp's embedding context, scaled to length 1 as OpenAI's are, so that the dot
 * product is the cosine similarity. The model's size is fixed, hence no `dimensions`.
 */
export async function embedLocally(
  local: LocalModel,
  request: EmbeddingRequest,
): Promise<EmbeddingResponse> {
  const inputs = embeddingTokens(local, request.input);
  const context = local.embeddingContext;
  if (!context) throw validationError('model', 'This model is not loaded for embeddings');
  const data: EmbeddingItem[] = [];
  let promptTokens = 0;
  for (const [index, tokens] of inputs.entries()) {
    // A client that left stops the batch between inputs; each one takes milliseconds.
    request.signal.throwIfAborted();
    const { vector } = await context.getEmbeddingFor(tokens);
    promptTokens += tokens.length;
    const unit = normalised(vector);
    data.push({
      object: 'embedding',
      index,
      embedding: request.encodingFormat === 'base64' ? float32Base64(unit) : unit,
    });
  }
  return {
    object: 'list',
    data,
    model: request.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

function normalised(vector: readonly number[]): number[] {
  const length = Math.hypot(...vector);
  return length === 0 ? [...vector] : vector.map((value) => value / length);
}

/** OpenAI's `encoding_format: base64`: the vector's little-endian float32 bytes. */
export function float32Base64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}
