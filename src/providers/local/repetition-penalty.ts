import { MAX_ORDER, contextKey } from './ngram-counts.js';

// Each earlier use of the same n-gram in this reply divides its probability by ten. An n-gram
// model on its own falls into loops ("the model is the model is …") as soon as a context predicts
// itself, most visibly at temperature 0; this keeps greedy output moving while staying deterministic.
const PENALTY = 0.1;

/** Remembers the n-grams a reply has produced so that repeating them gets less likely. */
export class RepetitionPenalty {
  private readonly used = new Map<string, Map<number, number>>();

  record(history: readonly number[], token: number): void {
    const key = contextKey(history, MAX_ORDER - 1);
    let next = this.used.get(key);
    if (next === undefined) {
      next = new Map();
      this.used.set(key, next);
    }
    next.set(token, (next.get(token) ?? 0) + 1);
  }

  /** Scales, in place, the candidates that would repeat an n-gram already produced. */
  apply(history: readonly number[], distribution: Map<number, number>): void {
    const next = this.used.get(contextKey(history, MAX_ORDER - 1));
    if (next === undefined) return;
    for (const [token, uses] of next) {
      const probability = distribution.get(token);
      if (probability !== undefined) distribution.set(token, probability * PENALTY ** uses);
    }
  }
}
