import type { ModelRoute, UpstreamTarget } from '../ports.js';

/** Providers the application always knows how to build; MODELS_FILE may not reuse these names. */
export const BUILT_IN_PROVIDER_NAMES = ['local', 'openai', 'anthropic'] as const;

export const DEFAULT_TARGET_WEIGHT = 1;
// The whole attempt, stream included: long answers at a few dozen tokens per second need minutes.
export const DEFAULT_TARGET_TIMEOUT_MS = 300_000;

/**
 * `created` of every route: fixed, so GET /v1/models is the same on every instance and across
 * restarts (a file's mtime would differ per deploy). 2025-01-01T00:00:00Z.
 */
export const ROUTE_CREATED = 1_735_689_600;

/** The bundled model (models/README.md), served by the local provider under this id. */
export const LOCAL_MODEL_ID = 'tiny-wordnet';

function target(provider: string, model: string): UpstreamTarget {
  return {
    provider,
    model,
    weight: DEFAULT_TARGET_WEIGHT,
    timeoutMs: DEFAULT_TARGET_TIMEOUT_MS,
  };
}

function route(id: string, ownedBy: string, only: UpstreamTarget): ModelRoute {
  return { id, ownedBy, created: ROUTE_CREATED, targets: [only], fallbacks: [] };
}

/** The table used when MODELS_FILE is unset; the upstream rows are listed only when configured. */
export function builtInRoutes(): ModelRoute[] {
  return [
    // Any GGUF can embed through llama.cpp; docs/models.md says how little this one's vectors mean.
    {
      ...route(LOCAL_MODEL_ID, 'local', target('local', LOCAL_MODEL_ID)),
      capabilities: { completions: true, embeddings: true },
    },
    route('gpt-4o', 'openai', target('openai', 'gpt-4o')),
    route('claude-3-5-sonnet', 'anthropic', target('anthropic', 'claude-3-5-sonnet-20241022')),
  ];
}

/**
 * The built-in table plus MODELS_FILE's routes. A file route with a built-in id replaces that
 * row in place, so the listing order stays stable; new ids follow in file order.
 */
export function withBuiltInRoutes(fileRoutes: readonly ModelRoute[]): ModelRoute[] {
  const byId = new Map(builtInRoutes().map((r) => [r.id, r]));
  for (const fileRoute of fileRoutes) byId.set(fileRoute.id, fileRoute);
  return [...byId.values()];
}
