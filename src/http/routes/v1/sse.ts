import type { GenerationEvent } from '../../../domain/ports.js';
import { errorBody, toAppError } from '../../errors.js';

/** A generation whose first event was awaited before any header was sent. */
export interface OpenedEvents {
  first: IteratorResult<GenerationEvent>;
  rest: AsyncIterator<GenerationEvent>;
}

/** Turns one event into the SSE frames it stands for (none, one or several). */
export type FrameRenderer = (event: GenerationEvent) => string[];

export function sseFrame(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/**
 * OpenAI's SSE framing around a renderer: its frames in order, then `[DONE]` once `done` has been
 * rendered. A failure after the first byte ends with an error event and no `[DONE]`, so that a
 * truncated answer is never passed off as complete. Leaving early (the client went away) returns
 * the event iterator, which stops the generation and meters what was streamed.
 */
export async function* sseStream(
  events: OpenedEvents,
  render: FrameRenderer,
  requestId: string,
): AsyncGenerator<string> {
  let next = events.first;
  try {
    while (!next.done) {
      for (const frame of render(next.value)) yield frame;
      if (next.value.type === 'done') {
        yield 'data: [DONE]\n\n';
        return;
      }
      next = await events.rest.next();
    }
  } catch (error) {
    yield sseFrame(errorBody(toAppError(error), requestId));
  } finally {
    await events.rest.return?.();
  }
}
