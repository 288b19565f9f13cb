import { clearMergeCache, countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { GenerationInput } from '../../domain/ports.js';

// Special-token spellings inside user text are ordinary characters, never control tokens.
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Per-message framing (role, separators) that chat formats add around each message's content. */
const TOKENS_PER_MESSAGE = 4;

/** o200k_base tokens of `text`: exact for OpenAI's current models, an estimate for others. */
export function countTextTokens(text: string): number {
  if (text === '') return 0;
  // The library's merge cache slows down badly after evicting many entries (see the local
  // provider's tokenizer); a fresh cache per text keeps every count as fast as the first.
  clearMergeCache();
  return countTokens(text, PLAIN_TEXT);
}

/** An estimate of a prompt's size for rate limiting before the upstream reports the real one. */
export function estimatePromptTokens(input: GenerationInput): number {
  if (input.kind === 'text') return countTextTokens(input.prompt);
  let total = 0;
  for (const message of input.messages) {
    total += TOKENS_PER_MESSAGE + countTextTokens(message.content);
    if (message.name !== undefined) total += countTextTokens(message.name);
  }
  return total;
}
