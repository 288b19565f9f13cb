import type { LlamaModel, Token } from 'node-llama-cpp';

// A UTF-8 character spans at most 4 byte-fallback tokens.
const MAX_PENDING = 4;

/**
 * Turns generated tokens into text as they arrive. A character split over byte tokens is held
 * until complete, so a stream never carries half a character as U+FFFD.
 */
export class TokenText {
  private pending: Token[] = [];
  private recent: Token[] = [];

  constructor(private readonly model: LlamaModel) {}

  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.recent);
    if (text.endsWith('\uFFFD') && this.pending.length < MAX_PENDING) return '';
    // The detokenizer looks at preceding tokens for spacing rules; a few are enough.
    this.recent = [...this.recent, ...this.pending].slice(-MAX_PENDING * 2);
    this.pending = [];
    return text;
  }

  /** Whatever is still held when generation ends. */
  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.model.detokenize(this.pending, false, this.recent);
    this.pending = [];
    return text;
  }
}
