/**
 * How a fake upstream answers. Fields combine (e.g. a slow first byte *and* a slow stream); an
 * empty object is a normal, fast, successful streamed reply.
 */
export interface FakeMode {
  /**
   * Answer with this error status instead of a reply, `times` times (default: always), then behave
   * normally. The error body always contains FAKE_SECRET, so tests can prove it never leaks.
   */
  fail?: {
    status: number;
    times?: number;
    /** The `Retry-After` header value (seconds or an HTTP date). */
    retryAfter?: string;
    /** The `retry-after-ms` header value. */
    retryAfterMs?: string;
  };
  /** Wait this long before sending the response headers. */
  firstByteDelayMs?: number;
  /** Never send anything; the request stays open until the client gives up. */
  hang?: boolean;
  /** Wait this long between content chunks. */
  chunkDelayMs?: number;
  /**
   * Destroy the connection after this many content chunks (and a pause of `chunkDelayMs`, default
   * 50 ms, so the client has seen them).
   */
  dropAfterChunks?: number;
  /** Send the dialect's in-stream error event after this many content chunks, then end. */
  errorEventAfterChunks?: number;
  /** The reply, streamed one word (with its leading space) per chunk. */
  reply?: string;
  /** Content chunks to send; the reply's words repeat as needed. Default: one per reply word. */
  chunks?: number;
  /** Bytes of ignored filler per chunk, to make large bodies (back-pressure tests). */
  padBytes?: number;
  /** Send the usage report (OpenAI: only when the request asked for it). Default true. */
  includeUsage?: boolean;
  /**
   * Report these in the usage (OpenAI: `prompt_tokens_details.cached_tokens`,
   * `completion_tokens_details.reasoning_tokens`); left out by default.
   */
  usageDetails?: { cachedTokens?: number; reasoningTokens?: number };
  /** End SSE lines with CRLF instead of LF. */
  crlf?: boolean;
}

export const DEFAULT_REPLY = 'The quick brown fox jumps over the lazy dog.';

/** A secret planted in every error body the fakes send. */
export const FAKE_SECRET = 'sk-fake-secret-0123456789abcdef';

/** The modes the tests and benchmarks use most, by name. */
export const fakeModes = {
  normal: (): FakeMode => ({}),
  slowFirstByte: (delayMs: number): FakeMode => ({ firstByteDelayMs: delayMs }),
  slowStream: (chunkDelayMs: number): FakeMode => ({ chunkDelayMs }),
  failThenSucceed: (times: number, status = 500): FakeMode => ({ fail: { status, times } }),
  rateLimited: (times: number, retryAfter = '1'): FakeMode => ({
    fail: { status: 429, times, retryAfter },
  }),
  dropMidStream: (afterChunks = 3): FakeMode => ({ dropAfterChunks: afterChunks }),
  neverAnswer: (): FakeMode => ({ hang: true }),
  badRequest: (): FakeMode => ({ fail: { status: 400 } }),
  large: (chunks = 5_000, padBytes = 4_096): FakeMode => ({ chunks, padBytes }),
} as const;

/** The words of a reply as streamed pieces: the first bare, the rest with their leading space. */
export function replyPieces(mode: FakeMode, limit: number | undefined): string[] {
  const words = (mode.reply ?? DEFAULT_REPLY).split(/\s+/).filter((word) => word !== '');
  const count = Math.min(mode.chunks ?? words.length, limit ?? Number.POSITIVE_INFINITY);
  const pieces: string[] = [];
  for (let index = 0; index < count && words.length > 0; index += 1) {
    const word = words[index % words.length] as string;
    pieces.push(index === 0 ? word : ` ${word}`);
  }
  return pieces;
}

/** A deterministic "token" count for fake usage: whitespace-separated words. */
export function wordCount(text: string): number {
  return text.split(/\s+/).filter((word) => word !== '').length;
}
