import type { ReplyPlan } from './reply-grammar.js';
import { readCall, type ReadCall } from './tool-calls.js';

/**
 * Sorts a reply's text into content, which streams as it comes, and a tool call, which is held
 * until the reply ends (its grammar has ended it, or the budget has). A reply that may be either
 * is content from its first visible character on unless that character opens a call; one that
 * may be a call or a JSON answer is held whole, since both open with `{`.
 */
export class ReplyReader {
  private decided: 'content' | 'call' | 'either' | undefined;
  private held = '';
  private visible = false;

  constructor(
    plan: ReplyPlan,
    /** The names a call may use (the callable tools). */
    private readonly toolNames: ReadonlySet<string>,
  ) {
    this.decided =
      plan.kind === 'text' || plan.kind === 'json'
        ? 'content'
        : plan.kind === 'call'
          ? 'call'
          : plan.kind === 'jsonOrCall'
            ? 'either'
            : undefined;
  }

  /** A visible character has been written (the `text` grammar is needed no longer). */
  get sawVisibleText(): boolean {
    return this.visible;
  }

  /** Whether the text so far goes to the content stream. */
  get isContent(): boolean {
    return this.decided === 'content';
  }

  /** Returns the content now released; a call's text is kept. */
  push(piece: string): string {
    if (!this.visible && piece.trim() !== '') this.visible = true;
    if (this.decided === 'content') return piece;
    this.held += piece;
    if (this.decided !== undefined) return '';
    const start = this.held.trimStart();
    if (start === '') return '';
    if (start.startsWith('{')) {
      this.decided = 'call';
      this.held = start;
      return '';
    }
    this.decided = 'content';
    const released = this.held;
    this.held = '';
    return released;
  }

  /** At the end: the call, if the reply is one, or the content still held. */
  finish(): { call?: ReadCall; content: string } {
    const held = this.held;
    this.held = '';
    if (this.decided === 'content' || this.decided === undefined) return { content: held };
    const call = readCall(held);
    if (call && this.toolNames.has(call.name)) {
      if (this.decided === 'call' || isWholeCall(held)) return { call, content: '' };
    }
    return this.decided === 'call' ? { content: '' } : { content: held };
  }
}

/** A JSON object with exactly a name and arguments: a call, not an answer that has a name. */
function isWholeCall(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const keys = Object.keys(parsed).sort();
    return keys.length === 2 && keys[0] === 'arguments' && keys[1] === 'name';
  } catch {
    return false;
  }
}
