import { validationError } from '../../domain/errors.js';
import type { Logger } from '../../domain/logger.js';
import type {
  GenerationEvent,
  GenerationRequest,
  ModelDescriptor,
  ModelProvider,
} from '../../domain/ports.js';
import { renderPrompt } from './render-prompt.js';
import { spawnModelWorker } from './spawn-worker.js';
import { encodeText } from './tokenizer.js';
import { WorkerPool } from './worker-pool.js';

export { renderChat, renderPrompt } from './render-prompt.js';

export const LOCAL_MODEL: Readonly<ModelDescriptor> = {
  id: 'local-ngram',
  ownedBy: 'local',
  // Fixed so that GET /v1/models is stable across restarts: 2025-01-01T00:00:00Z.
  created: 1_735_689_600,
};

export interface LocalProviderOptions {
  /** Generations that can run at once; each has its own worker thread. */
  workers: number;
  logger: Logger;
}

/**
 * The built-in model: an n-gram language model over o200k_base tokens, trained on a small
 * built-in corpus plus the prompt. Generation runs on worker threads so it never blocks the event
 * loop; the consumer's pace limits how far ahead a worker may run.
 */
export function createLocalProvider(options: LocalProviderOptions): ModelProvider {
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${options.workers}`);
  }
  const pool = new WorkerPool({
    size: options.workers,
    logger: options.logger,
    spawn: spawnModelWorker,
  });

  async function* generate(request: GenerationRequest): AsyncGenerator<GenerationEvent> {
    if (request.model !== LOCAL_MODEL.id) {
      throw validationError('model', `The local provider does not serve "${request.model}"`);
    }
    const { signal } = request;
    signal.throwIfAborted();
    const job = pool.submit({
      kind: request.input.kind,
      prompt: renderPrompt(request.input),
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      topP: request.topP,
      stop: request.stop,
      ...(request.seed === undefined ? {} : { seed: request.seed }),
    });
    const onAbort = (): void => job.cancel(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const event = await job.next();
        yield event;
        if (event.type === 'done') return;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A no-op after `done`; otherwise the consumer stopped early or the request failed, and
      // this stops the generation and frees its worker.
      job.cancel();
    }
  }

  return {
    name: 'local',
    models: () => [{ ...LOCAL_MODEL }],
    generate,
    // The same rendering and tokenizer the worker uses, so the count is the prompt's exact size.
    countPromptTokens: (input) => encodeText(renderPrompt(input)).length,
    close: () => pool.close(),
  };
}
