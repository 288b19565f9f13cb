import { AppError, isAppError } from '../../errors.js';
import type { GenerationEvent } from '../../ports.js';
import type { CacheWriter } from './cache-stage.js';
import type { GenerationRun } from './generation-run.js';

/** A generation's first event, already received (and counted by the run), and the rest. */
export interface EventSource {
  first: GenerationEvent;
  rest: AsyncIterator<GenerationEvent>;
}

/**
 * The one stream a request reads: the source's events as they come, each counted by the run,
 * the answer offered to the cache, and the run ended exactly once however the stream ends.
 */
export async function* generationEvents(
  run: GenerationRun,
  source: EventSource,
  signal: AbortSignal,
  cache?: CacheWriter,
): AsyncGenerator<GenerationEvent> {
  run.markPulled();
  let event = source.first;
  try {
    for (;;) {
      if (event.type === 'done') {
        await cache?.finish(event);
        await close(source.rest);
        // Ended before the last event is handed over, so a consumer that stops here is metered.
        run.end({ outcome: 'completed', finishReason: event.finishReason, usage: event.usage });
        yield event;
        return;
      }
      cache?.add(event);
      yield event;
      const next = await run.timed(() => source.rest.next());
      if (next.done) {
        // Providers end without `done` only when aborted; otherwise the answer is cut short.
        if (signal.aborted) return;
        throw new AppError('UPSTREAM_ERROR', { message: 'The model ended its answer unfinished' });
      }
      event = next.value;
      run.observe(event);
    }
  } catch (error) {
    run.end({ outcome: 'failed', error });
    throw isAppError(error) ? error : new AppError('INTERNAL_ERROR', { cause: error });
  } finally {
    // Stops the provider's work when the consumer left early (a no-op once it has finished).
    await close(source.rest);
    run.end({ outcome: 'cancelled' });
  }
}

async function close(iterator: AsyncIterator<GenerationEvent>): Promise<void> {
  await iterator.return?.().catch(() => undefined);
}
