/** One dispatched Server-Sent Event. */
export interface SseEvent {
  /** The `event:` field; `message` when the upstream sent none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  id?: string;
}

export class SseOverflowError extends Error {
  constructor(limit: number) {
    super(`Server-sent event exceeds ${limit} characters`);
    this.name = 'SseOverflowError';
  }
}

/** Large enough for any real completion chunk; a guard against an upstream that never ends a line. */
export const DEFAULT_MAX_EVENT_CHARS = 1 << 20;

interface PendingEvent {
  event: string;
  data: string[];
  id: string | undefined;
}

/**
 * Parses an SSE byte stream (https://html.spec.whatwg.org/multipage/server-sent-events.html)
 * incrementally. It pulls the next chunk only when its consumer asks for the next event, so a slow
 * consumer leaves the rest of the body in the socket and the upstream sees TCP back-pressure.
 */
export async function* parseSse(
  body: AsyncIterable<Uint8Array | string>,
  maxEventChars: number = DEFAULT_MAX_EVENT_CHARS,
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let pending: PendingEvent = { event: '', data: [], id: undefined };
  let pendingChars = 0;

  function* takeLines(final: boolean): Generator<SseEvent> {
    let start = 0;
    for (;;) {
      const lf = buffer.indexOf('\n', start);
      const cr = buffer.indexOf('\r', start);
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR at the very end may be the first half of a CRLF split across two chunks.
        if (cr === buffer.length - 1 && !final) break;
        end = cr;
        next = buffer[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      const event = processLine(buffer.slice(start, end));
      start = next;
      if (event) yield event;
    }
    buffer = buffer.slice(start);
    if (final && buffer !== '') {
      // The spec drops an unterminated last event; a cleanly ended body is trusted instead, so an
      // upstream that omits the final blank line still delivers its last event.
      processLine(buffer);
      buffer = '';
    }
  }

  function processLine(line: string): SseEvent | undefined {
    if (line === '') return dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    pendingChars += value.length;
    if (pendingChars > maxEventChars) throw new SseOverflowError(maxEventChars);
    if (field === 'data') pending.data.push(value);
    else if (field === 'event') pending.event = value;
    else if (field === 'id' && !value.includes('\0')) pending.id = value;
    // `retry` and unknown fields do not matter to a one-shot request.
    return undefined;
  }

  function dispatch(): SseEvent | undefined {
    const current = pending;
    pending = { event: '', data: [], id: undefined };
    pendingChars = 0;
    if (current.data.length === 0) return undefined;
    return {
      event: current.event === '' ? 'message' : current.event,
      data: current.data.join('\n'),
      ...(current.id === undefined ? {} : { id: current.id }),
    };
  }

  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    yield* takeLines(false);
    if (buffer.length > maxEventChars) throw new SseOverflowError(maxEventChars);
  }
  buffer += decoder.decode();
  yield* takeLines(true);
  const last = dispatch();
  if (last) yield last;
}
