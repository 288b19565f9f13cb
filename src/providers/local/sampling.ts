import {
  TokenBias,
  type LlamaContextSequenceRepeatPenalty,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type { ChatCompletionBody } from '../../domain/inference/chat-request.js';
import { validationError } from '../../domain/errors.js';

/**
 * OpenAI's penalties as llama.cpp's penalty sampler: both subtract from a token's logit, once if
 * it occurs in the reply so far (presence) and once per occurrence (frequency), as OpenAI
 * documents. llama.cpp's own multiplicative repeat penalty stays off (1), as OpenAI has none.
 * `generated` is read on every token, so it covers the whole reply.
 */
export function penaltyOptions(
  chat: ChatCompletionBody | undefined,
  generated: Token[],
  budget: number,
): LlamaContextSequenceRepeatPenalty | undefined {
  const presencePenalty = numberOr0(chat?.presence_penalty);
  const frequencyPenalty = numberOr0(chat?.frequency_penalty);
  if (presencePenalty === 0 && frequencyPenalty === 0) return undefined;
  return {
    punishTokens: () => generated,
    maxPunishTokens: Math.max(1, budget),
    penalty: 1,
    presencePenalty,
    frequencyPenalty,
  };
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/**
 * `logit_bias` as pairs of token id and the logit to add, as OpenAI applies them. Ids are the
 * model's own (as from its tokenizer). An id outside its vocabulary, or one that ends generation
 * (which llama.cpp leaves to the grammar and the budget, so its bias would be dropped), is a 422
 * naming it.
 */
export function logitBiasEntries(
  chat: ChatCompletionBody | undefined,
  vocabularySize: number,
  endsGeneration: (token: Token) => boolean,
): [Token, number][] {
  const bias = chat?.logit_bias;
  if (bias === null || bias === undefined || typeof bias !== 'object') return [];
  const entries: [Token, number][] = [];
  for (const [key, value] of Object.entries(bias as Record<string, number>)) {
    const token = Number(key) as Token;
    const field = `logit_bias.${key}`;
    if (!Number.isInteger(token) || token < 0 || token >= vocabularySize) {
      throw validationError(field, `Is not a token id of this model (0 to ${vocabularySize - 1})`);
    }
    if (endsGeneration(token)) {
      throw validationError(field, 'Ends generation; the local model cannot bias it');
    }
    if (value !== 0) entries.push([token, value]);
  }
  return entries;
}

export function tokenBias(
  model: LlamaModel,
  entries: readonly [Token, number][],
): TokenBias | undefined {
  if (entries.length === 0) return undefined;
  const bias = new TokenBias(model.tokenizer);
  for (const [token, logit] of entries) bias.set(token, { logit });
  return bias;
}
