import { describe, expect, it } from 'vitest';
import type { ModelRoute } from '../../../src/domain/ports.js';
import { builtInRoutes, withBuiltInRoutes } from '../../../src/domain/routing/built-in-routes.js';

const summary = (routes: ModelRoute[]) =>
  routes.map((r) => [r.id, r.ownedBy, ...r.targets.map((t) => `${t.provider}/${t.model}`)]);

describe('built-in routes', () => {
  it('serve the local model and the two upstream models', () => {
    expect(summary(builtInRoutes())).toEqual([
      ['tiny-wordnet', 'local', 'local/tiny-wordnet'],
      ['gpt-4o', 'openai', 'openai/gpt-4o'],
      ['claude-3-5-sonnet', 'anthropic', 'anthropic/claude-3-5-sonnet-20241022'],
    ]);
    for (const route of builtInRoutes()) {
      expect(route.targets[0]).toMatchObject({ weight: 1, timeoutMs: 300_000 });
      expect(route.fallbacks).toEqual([]);
    }
  });

  it('are extended by file routes, which replace a built-in id in place', () => {
    const mine = (id: string): ModelRoute => ({
      id,
      ownedBy: 'me',
      created: 1,
      targets: [{ provider: 'vllm', model: 'x', weight: 1, timeoutMs: 100 }],
      fallbacks: [],
    });
    expect(summary(withBuiltInRoutes([mine('llama'), mine('gpt-4o')]))).toEqual([
      ['tiny-wordnet', 'local', 'local/tiny-wordnet'],
      ['gpt-4o', 'me', 'vllm/x'],
      ['claude-3-5-sonnet', 'anthropic', 'anthropic/claude-3-5-sonnet-20241022'],
      ['llama', 'me', 'vllm/x'],
    ]);
  });
});
