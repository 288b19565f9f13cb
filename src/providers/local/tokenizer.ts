import bpeRanks from 'gpt-tokenizer/bpeRanks/o200k_base';
import { clearMergeCache, encode } from 'gpt-tokenizer/encoding/o200k_base';

/** o200k_base's `<|endoftext|>` id; the model uses it both to start and to end a document. */
export const END_OF_TEXT = 199_999;

// Special-token spellings inside user text are ordinary characters to us, never control tokens.
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

export function encodeText(text: string): number[] {
  // The library's merge cache evicts by deleting a Map's first key, which V8 makes slower and
  // slower as deletions pile up: after one huge prompt every later encode ran several times slower.
  // A fresh cache per text keeps each encode as fast as the first.
  clearMergeCache();
  return encode(text, PLAIN_TEXT);
}

/**
 * How a token spells: a string when its bytes are complete UTF-8, otherwise the raw bytes (part of
 * a multi-byte character). Read straight from the rank table because the library's own decoder
 * keeps streaming state in one module-wide TextDecoder, which an abandoned generation would corrupt.
 */
export function tokenSpelling(token: number): string | readonly number[] | undefined {
  return bpeRanks[token];
}
