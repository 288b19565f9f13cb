/** Longest n-gram the model counts; its contexts are MAX_ORDER - 1 tokens long. */
export const MAX_ORDER = 4;

export interface Continuations {
  total: number;
  next: Map<number, number>;
}

/** The key of the context made of the last `length` tokens of `history`. */
export function contextKey(history: readonly number[], length: number): string {
  return length === 0 ? '' : history.slice(history.length - length).join(',');
}

/** Weighted counts of every n-gram up to MAX_ORDER, indexed by context length. */
export class NgramCounts {
  private readonly byContextLength: Map<string, Continuations>[] = Array.from(
    { length: MAX_ORDER },
    () => new Map<string, Continuations>(),
  );

  /** Counts how `tokens[i]` follows its preceding tokens for every i ≥ 1; tokens[0] is context only. */
  add(tokens: readonly number[], weight = 1): void {
    for (let i = 1; i < tokens.length; i++) {
      const token = tokens[i] as number;
      for (let length = 0; length < MAX_ORDER && length <= i; length++) {
        const key = length === 0 ? '' : tokens.slice(i - length, i).join(',');
        const table = this.byContextLength[length] as Map<string, Continuations>;
        let entry = table.get(key);
        if (entry === undefined) {
          entry = { total: 0, next: new Map() };
          table.set(key, entry);
        }
        entry.total += weight;
        entry.next.set(token, (entry.next.get(token) ?? 0) + weight);
      }
    }
  }

  get(contextLength: number, key: string): Continuations | undefined {
    return this.byContextLength[contextLength]?.get(key);
  }
}
