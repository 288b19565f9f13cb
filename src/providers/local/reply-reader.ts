import type { ReplyPlan } from './reply-grammar.js';
import { readCall, type ReadCall } from './tool-calls.js';

/** A call's text up to where its arguments object (or array) opens. */
const CALL_HEAD = /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*(?=[{[])/;

/** A piece of the call being read: the first names the tool. */
export interface CallPiece {
  name?: string;
  arguments: string;
}

/**
 * Sorts a reply's text into content, which streams as it comes, and a tool call, whose arguments
 * stream too once its name is written (up to where they end: the rest is the call's own braces).
 * A reply that may be either is content from its first visible character on unless that character
 * opens a call; one that may be a call or a JSON answer is held whole, since both open with `{`.
 */
export class ReplyReader {
  private decided: 'content' | 'call' | 'either' | undefined;
  private held = '';
  private visible = false;
  /** Where the held call's arguments start, once its name is known; -1 before. */
  private argumentsStart = -1;
  private scanned = 0;
  private argumentsEnd = -1;
  private released = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

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

  /** The call's text that can be streamed now: its name first, then its arguments as written. */
  takeCall(): CallPiece | undefined {
    if (this.decided !== 'call') return undefined;
    let name: string | undefined;
    if (this.argumentsStart === -1) {
      const head = CALL_HEAD.exec(this.held);
      if (!head?.[1]) return undefined;
      name = JSON.parse(head[1]) as string;
      this.argumentsStart = this.scanned = this.released = head[0].length;
    }
    this.scanArguments();
    const end = this.argumentsEnd === -1 ? this.scanned : this.argumentsEnd;
    const text = this.held.slice(this.released, end);
    this.released = end;
    if (name === undefined && text === '') return undefined;
    return name === undefined ? { arguments: text } : { name, arguments: text };
  }

  /** Finds where the arguments value closes, reading only what is new. */
  private scanArguments(): void {
    for (; this.scanned < this.held.length && this.argumentsEnd === -1; this.scanned += 1) {
      const char = this.held[this.scanned];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (char === '\\') this.escaped = true;
        else if (char === '"') this.inString = false;
      } else if (char === '"') this.inString = true;
      else if (char === '{' || char === '[') this.depth += 1;
      else if (char === '}' || char === ']') {
        this.depth -= 1;
        if (this.depth === 0) this.argumentsEnd = this.scanned + 1;
      }
    }
  }

  /**
   * At the end: the call, if the reply is one and was not streamed (`callRest` is what is left of
   * a streamed one), or the content still held.
   */
  finish(): { call?: ReadCall; callRest?: string; content: string } {
    if (this.argumentsStart !== -1) {
      const rest = this.takeCall()?.arguments ?? '';
      this.held = '';
      return { callRest: rest, content: '' };
    }
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
