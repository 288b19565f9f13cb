import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../../src/config/index.js';
import { localModelSettings } from '../../../src/config/local-models.js';
import { loadModelsFile } from '../../../src/config/models-file.js';
import { routeCapabilities } from '../../../src/domain/inference/capabilities.js';
import { builtInRoutes, withBuiltInRoutes } from '../../../src/domain/routing/built-in-routes.js';

const dir = mkdtempSync(path.join(tmpdir(), 'models-file-capabilities-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function fileWith(capabilities: unknown, extra: Record<string, unknown> = {}): string {
  count += 1;
  const file = path.join(dir, `${count}.yaml`);
  writeFileSync(
    file,
    stringify({
      providers: {
        vllm: { type: 'openai-compatible', base_url: 'http://vllm:8000/v1' },
        claude: { type: 'anthropic', base_url: 'https://api.anthropic.test' },
      },
      models: [
        {
          id: 'm',
          targets: [{ provider: 'vllm', model: 'a' }],
          ...(capabilities === undefined ? {} : { capabilities }),
          ...extra,
        },
      ],
    }),
  );
  return file;
}

function problemsOf(file: string): string[] {
  try {
    loadModelsFile(file, {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const routeOf = (file: string) => loadModelsFile(file, {}).routes[0];

describe('MODELS_FILE capabilities', () => {
  it('leaves a route without capabilities at the defaults: completions only', () => {
    const route = routeOf(fileWith(undefined));
    expect(route?.capabilities).toBeUndefined();
    expect(routeCapabilities(route!)).toEqual({ completions: true, embeddings: false });
  });

  it('reads every key, spelled as the file spells its other keys', () => {
    const route = routeOf(
      fileWith({
        completions: true,
        embeddings: false,
        tools: true,
        vision: false,
        json_schema: true,
        context_window: 128_000,
      }),
    );
    expect(route?.capabilities).toEqual({
      completions: true,
      embeddings: false,
      tools: true,
      vision: false,
      jsonSchema: true,
      contextWindow: 128_000,
    });
  });

  it('fills completions and embeddings from the defaults and leaves the rest unset', () => {
    expect(routeOf(fileWith({ tools: false }))?.capabilities).toEqual({
      completions: true,
      embeddings: false,
      tools: false,
    });
    expect(routeOf(fileWith({ embeddings: true }))?.capabilities).toEqual({
      completions: true,
      embeddings: true,
    });
  });

  it('takes an embeddings-only route with a context window', () => {
    expect(
      routeOf(fileWith({ completions: false, embeddings: true, context_window: 8192 }))
        ?.capabilities,
    ).toEqual({ completions: false, embeddings: true, contextWindow: 8192 });
  });

  it.each([
    [{ tools: 'yes' }, 'models[0].capabilities.tools: must be true or false'],
    [{ vision: 1 }, 'models[0].capabilities.vision: must be true or false'],
    [{ json_schema: 'true' }, 'models[0].capabilities.json_schema: must be true or false'],
    [{ embeddings: null }, 'models[0].capabilities.embeddings: must be true or false'],
    [
      { context_window: 15 },
      'models[0].capabilities.context_window: must be an integer from 16 to 16777216',
    ],
    [
      { context_window: 4096.5 },
      'models[0].capabilities.context_window: must be an integer from 16 to 16777216',
    ],
    [
      { context_window: '8k' },
      'models[0].capabilities.context_window: must be an integer from 16 to 16777216',
    ],
    [{ jsonSchema: true }, 'models[0].capabilities.jsonSchema: unknown key'],
    [{ streaming: true }, 'models[0].capabilities.streaming: unknown key'],
    [
      ['embeddings'],
      'models[0].capabilities: must be a mapping of completions, embeddings, tools, vision, json_schema, context_window',
    ],
    [
      { completions: false },
      'models[0].capabilities: must allow completions or embeddings (a model that serves nothing is not listed)',
    ],
    [
      { completions: false, embeddings: true, tools: true },
      'models[0].capabilities.tools: applies to completions, which this model does not serve',
    ],
    [
      { completions: false, embeddings: true, json_schema: false },
      'models[0].capabilities.json_schema: applies to completions, which this model does not serve',
    ],
  ])('rejects %j', (capabilities, expected) => {
    expect(problemsOf(fileWith(capabilities))).toEqual([`MODELS_FILE: ${expected}`]);
  });

  it('reports each bad key of one mapping', () => {
    expect(problemsOf(fileWith({ tools: 'no', vision: 'no' }))).toEqual([
      'MODELS_FILE: models[0].capabilities.tools: must be true or false',
      'MODELS_FILE: models[0].capabilities.vision: must be true or false',
    ]);
  });

  it('refuses embeddings on a route with an Anthropic row, built-in or defined in the file', () => {
    const file = fileWith(
      { embeddings: true },
      {
        targets: [
          { provider: 'vllm', model: 'a' },
          { provider: 'anthropic', model: 'claude' },
        ],
        fallbacks: [{ provider: 'claude', model: 'claude-backup' }],
      },
    );
    expect(problemsOf(file)).toEqual([
      'MODELS_FILE: models[0].targets[1].provider: "anthropic" is an Anthropic API, which has no embeddings (capabilities.embeddings is true)',
      'MODELS_FILE: models[0].fallbacks[0].provider: "claude" is an Anthropic API, which has no embeddings (capabilities.embeddings is true)',
    ]);
  });

  it('takes an Anthropic route that does not declare embeddings', () => {
    const file = fileWith({ tools: true }, { targets: [{ provider: 'claude', model: 'c' }] });
    expect(routeOf(file)?.capabilities).toEqual({
      completions: true,
      embeddings: false,
      tools: true,
    });
  });
});

describe('local models and embeddings', () => {
  const config = { localModel: { bundledPath: '/models/tiny.gguf', threads: 2, contexts: 2 } };

  it('loads an embedding context for the bundled model, which the built-in table embeds with', () => {
    const builtIn = builtInRoutes().find((route) => route.id === 'tiny-wordnet');
    expect(routeCapabilities(builtIn!)).toEqual({ completions: true, embeddings: true });
    const settings = localModelSettings(config as never, undefined, withBuiltInRoutes([]));
    expect(settings).toEqual([expect.objectContaining({ name: 'tiny-wordnet', embeddings: true })]);
  });

  it('loads one only for local models that some embeddings route reaches', () => {
    count += 1;
    const file = path.join(dir, `${count}.yaml`);
    writeFileSync(
      file,
      stringify({
        models: [
          { id: 'tiny-wordnet', targets: [{ provider: 'local', model: 'tiny-wordnet' }] },
          {
            id: 'embedder',
            capabilities: { completions: false, embeddings: true },
            targets: [{ provider: 'openai', model: 'x' }],
            fallbacks: [{ provider: 'local', model: 'minilm', path: '/models/minilm.gguf' }],
          },
        ],
      }),
    );
    const modelsFile = loadModelsFile(file, {});
    const settings = localModelSettings(
      config as never,
      modelsFile,
      withBuiltInRoutes(modelsFile.routes),
    );
    expect(settings.map(({ name, embeddings }) => ({ name, embeddings }))).toEqual([
      { name: 'tiny-wordnet', embeddings: false },
      { name: 'minilm', embeddings: true },
    ]);
  });
});
