/** Where a UTF-8 decoder stands: how many continuation bytes it still needs, and their range. */
interface Utf8State {
  need: number;
  lo: number;
  hi: number;
}

const BOUNDARY: Utf8State = { need: 0, lo: 0x80, hi: 0xbf };

/** The state after `byte`, or null when the byte cannot appear there in valid UTF-8. */
function advance(state: Utf8State, byte: number): Utf8State | null {
  if (state.need > 0) {
    if (byte < state.lo || byte > state.hi) return null;
    return state.need === 1 ? BOUNDARY : { need: state.need - 1, lo: 0x80, hi: 0xbf };
  }
  if (byte <= 0x7f) return BOUNDARY;
  if (byte >= 0xc2 && byte <= 0xdf) return { need: 1, lo: 0x80, hi: 0xbf };
  // The narrowed ranges after E0, ED, F0 and F4 exclude overlong forms, surrogates and > U+10FFFF.
  if (byte === 0xe0) return { need: 2, lo: 0xa0, hi: 0xbf };
  if (byte === 0xed) return { need: 2, lo: 0x80, hi: 0x9f };
  if (byte >= 0xe1 && byte <= 0xef) return { need: 2, lo: 0x80, hi: 0xbf };
  if (byte === 0xf0) return { need: 3, lo: 0x90, hi: 0xbf };
  if (byte >= 0xf1 && byte <= 0xf3) return { need: 3, lo: 0x80, hi: 0xbf };
  if (byte === 0xf4) return { need: 3, lo: 0x80, hi: 0x8f };
  return null;
}

/**
 * Turns token spellings into text without ever releasing a partial character. A token may carry
 * only some bytes of a character; those wait here until the rest arrives. `accepts` lets the
 * sampler refuse tokens that would make the byte stream invalid, so output never contains U+FFFD
 * produced by us.
 */
export class Utf8Assembler {
  private state: Utf8State = BOUNDARY;
  private pending: number[] = [];
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  get midCharacter(): boolean {
    return this.state.need > 0;
  }

  accepts(spelling: string | readonly number[]): boolean {
    if (typeof spelling === 'string') return this.state.need === 0;
    let state: Utf8State | null = this.state;
    for (const byte of spelling) {
      state = advance(state, byte);
      if (state === null) return false;
    }
    return true;
  }

  /** Adds an accepted spelling and returns the text it completes (possibly empty). */
  push(spelling: string | readonly number[]): string {
    if (typeof spelling === 'string') return spelling;
    let complete = 0;
    for (const byte of spelling) {
      const next = advance(this.state, byte);
      if (next === null) throw new Error('Utf8Assembler.push called with a rejected spelling');
      this.state = next;
      this.pending.push(byte);
      if (next.need === 0) complete = this.pending.length;
    }
    if (complete === 0) return '';
    const text = this.decoder.decode(Uint8Array.from(this.pending.slice(0, complete)));
    this.pending = this.pending.slice(complete);
    return text;
  }

  /** Drops an unfinished character, e.g. when no token can complete it. */
  discard(): void {
    this.state = BOUNDARY;
    this.pending = [];
  }
}
