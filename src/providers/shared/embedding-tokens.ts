import type { EmbeddingInput } from '../../domain/inference/embeddings.js';
import { countTextTokens } from './token-count.js';

/** Input tokens of an embeddings request as o200k_base counts them; token ids count as given. */
export function estimateEmbeddingTokens(input: EmbeddingInput): number {
  if (input.kind === 'tokens') return input.tokens.reduce((sum, ids) => sum + ids.length, 0);
  return input.texts.reduce((sum, text) => sum + countTextTokens(text), 0);
}
