import { MAX_ORDER, contextKey, type Continuations, type NgramCounts } from './ngram-counts.js';
import { END_OF_TEXT } from './tokenizer.js';

// Interpolation weights by context length (0 = unigram). Longer contexts are more specific, so they
// are trusted more; lengths whose context was never seen drop out and the rest are renormalized.
const CONTEXT_WEIGHTS: readonly number[] = [0.02, 0.08, 0.3, 0.6];

// The unigram fallback keeps only the most frequent tokens, which bounds the work per generated
// token however large the prompt is.
const UNIGRAM_LIMIT = 256;

/** An interpolated n-gram language model over several count tables (corpus, prompt) summed. */
export class NgramModel {
  private readonly unigram: readonly (readonly [token: number, probability: number])[];

  constructor(private readonly tables: readonly NgramCounts[]) {
    const merged = new Map<number, number>();
    for (const table of tables) {
      for (const [token, count] of table.get(0, '')?.next ?? []) {
        merged.set(token, (merged.get(token) ?? 0) + count);
      }
    }
    // End of text is only worth predicting where a context says so, not as background noise.
    merged.delete(END_OF_TEXT);
    const top = [...merged].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, UNIGRAM_LIMIT);
    const total = top.reduce((sum, [, count]) => sum + count, 0);
    this.unigram = top.map(([token, count]) => [token, count / total] as const);
  }

  /** P(next token | history) over the candidates any context proposes; sums to 1. */
  distribution(history: readonly number[]): Map<number, number> {
    const seen: { weight: number; total: number; sources: Continuations[] }[] = [];
    let weightSum = this.unigram.length > 0 ? (CONTEXT_WEIGHTS[0] as number) : 0;
    for (let length = 1; length < MAX_ORDER && length <= history.length; length++) {
      const key = contextKey(history, length);
      const sources: Continuations[] = [];
      let total = 0;
      for (const table of this.tables) {
        const continuations = table.get(length, key);
        if (continuations === undefined) continue;
        sources.push(continuations);
        total += continuations.total;
      }
      if (total === 0) continue;
      const weight = CONTEXT_WEIGHTS[length] as number;
      seen.push({ weight, total, sources });
      weightSum += weight;
    }

    const dist = new Map<number, number>();
    if (weightSum === 0) return dist;
    const unigramShare = (CONTEXT_WEIGHTS[0] as number) / weightSum;
    for (const [token, probability] of this.unigram) dist.set(token, unigramShare * probability);
    for (const { weight, total, sources } of seen) {
      const factor = weight / weightSum / total;
      for (const continuations of sources) {
        for (const [token, count] of continuations.next) {
          dist.set(token, (dist.get(token) ?? 0) + factor * count);
        }
      }
    }
    return dist;
  }
}
