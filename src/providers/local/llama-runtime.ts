import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import type { Logger } from '../../domain/logger.js';

let shared: Promise<Llama> | undefined;

/**
 * llama.cpp's CPU build, loaded once per process (loading probes the binary, ~1 s). `gpu: false`
 * and `build: 'never'`: only the prebuilt linux-x64 binary is installed, and nothing may be
 * downloaded or compiled at run time.
 */
export function loadLlama(logger: Logger): Promise<Llama> {
  shared ??= getLlama({
    gpu: false,
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (text === '') return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
        logger.error({ llama: text }, 'llama.cpp');
      } else {
        logger.warn({ llama: text }, 'llama.cpp');
      }
    },
  }).catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
