import { LOCAL_MODEL_ID } from '../domain/routing/built-in-routes.js';
import type { ModelRoute } from '../domain/ports.js';
import { routeCapabilities } from '../domain/inference/capabilities.js';
import { ConfigError } from './config-error.js';
import type { Config } from './index.js';
import type { ModelsFile } from './models-file.js';

/** What the local provider loads for one model name. */
export interface LocalModelSettings {
  name: string;
  path: string;
  contextSize?: number;
  threads: number;
  contexts: number;
  /** Some route reaching it serves embeddings, so an embedding context is loaded too. */
  embeddings: boolean;
}

/**
 * Every local model some route can reach, with MODELS_FILE's settings over the LOCAL_MODEL_*
 * defaults. A model no route uses is not loaded (its memory would be wasted).
 */
export function localModelSettings(
  config: Pick<Config, 'localModel'>,
  modelsFile: Pick<ModelsFile, 'localModels'> | undefined,
  routes: readonly ModelRoute[],
): LocalModelSettings[] {
  const fromFile = new Map((modelsFile?.localModels ?? []).map((entry) => [entry.name, entry]));
  const names = new Set(
    routes
      .flatMap((route) => [...route.targets, ...route.fallbacks])
      .filter((target) => target.provider === 'local')
      .map((target) => target.model),
  );
  const embedding = new Set(
    routes
      .filter((route) => routeCapabilities(route).embeddings)
      .flatMap((route) => [...route.targets, ...route.fallbacks])
      .filter((target) => target.provider === 'local')
      .map((target) => target.model),
  );
  return [...names].map((name) => {
    const entry = fromFile.get(name);
    const path =
      entry?.path ?? (name === LOCAL_MODEL_ID ? config.localModel.bundledPath : undefined);
    if (path === undefined) {
      throw new ConfigError([`MODELS_FILE: local model "${name}" needs a path to its GGUF file`]);
    }
    return {
      name,
      path,
      ...(entry?.contextSize === undefined ? {} : { contextSize: entry.contextSize }),
      threads: entry?.threads ?? config.localModel.threads,
      contexts: entry?.contexts ?? config.localModel.contexts,
      embeddings: embedding.has(name),
    };
  });
}
