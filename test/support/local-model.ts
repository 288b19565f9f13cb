import { fileURLToPath } from 'node:url';
import { readGgufFileInfo } from 'node-llama-cpp';

/** The bundled default model, as the config resolves it. */
export const BUNDLED_MODEL = 'tiny-wordnet';
export const BUNDLED_MODEL_PATH = fileURLToPath(
  new URL('../../models/tiny-wordnet.gguf', import.meta.url),
);

/**
 * Tokens the local provider gives the bundled model (prompt and completion together) when no
 * context_size is set: the context it was trained with, at most 4096. Read from the GGUF's header
 * rather than written down, so tests hold for whichever export models/ holds.
 */
export async function bundledContextSize(): Promise<number> {
  const info = await readGgufFileInfo(BUNDLED_MODEL_PATH, {
    readTensorInfo: false,
    logWarnings: false,
  });
  const trained = info.architectureMetadata.context_length;
  if (typeof trained !== 'number') throw new Error(`${BUNDLED_MODEL_PATH} has no context_length`);
  return Math.min(trained, 4096);
}
