import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError } from '../../../src/config/index.js';
import { loadModelsFile } from '../../../src/config/models-file.js';
import { withBuiltInRoutes } from '../../../src/domain/routing/built-in-routes.js';
import { ModelRouter } from '../../../src/domain/routing/model-router.js';
import { ScriptedProvider, providerMap } from '../routing/scripted-provider.js';

const dir = mkdtempSync(path.join(tmpdir(), 'models-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function write(name: string, text: string): string {
  fileCount += 1;
  const file = path.join(dir, `${fileCount}-${name}`);
  writeFileSync(file, text);
  return file;
}

const EXAMPLE_YAML = `
providers:
  vllm:
    type: openai-compatible
    base_url: http://10.0.0.5:8000/v1
    api_key_env: VLLM_API_KEY
models:
  - id: llama-3-8b
    owned_by: my-team
    targets:
      - provider: vllm
        model: meta-llama/Meta-Llama-3-8B-Instruct
        weight: 3
        timeout_ms: 30000
      - provider: vllm
        model: meta-llama/Meta-Llama-3-8B-Instruct-AWQ
    fallbacks:
      - provider: openai
        model: gpt-4o-mini
  - id: team/fast:v1
    targets:
      - provider: local
        model: tiny-wordnet
`;

const EXPECTED = {
  localModels: [{ name: 'tiny-wordnet' }],
  providers: [
    {
      name: 'vllm',
      type: 'openai-compatible',
      baseUrl: 'http://10.0.0.5:8000/v1',
      apiKey: 'secret-key',
    },
  ],
  routes: [
    {
      id: 'llama-3-8b',
      ownedBy: 'my-team',
      created: 1_735_689_600,
      targets: [
        {
          provider: 'vllm',
          model: 'meta-llama/Meta-Llama-3-8B-Instruct',
          weight: 3,
          timeoutMs: 30_000,
        },
        {
          provider: 'vllm',
          model: 'meta-llama/Meta-Llama-3-8B-Instruct-AWQ',
          weight: 1,
          timeoutMs: 300_000,
        },
      ],
      fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini', weight: 1, timeoutMs: 300_000 }],
    },
    {
      id: 'team/fast:v1',
      ownedBy: 'local',
      created: 1_735_689_600,
      targets: [{ provider: 'local', model: 'tiny-wordnet', weight: 1, timeoutMs: 300_000 }],
      fallbacks: [],
    },
  ],
};

const env = { VLLM_API_KEY: 'secret-key' };

function problemsOf(file: string, environment: NodeJS.ProcessEnv = env): string[] {
  try {
    loadModelsFile(file, environment);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** A valid document to break one rule at a time. */
function baseDocument(): Record<string, unknown> {
  return {
    providers: { vllm: { type: 'openai-compatible', base_url: 'http://vllm:8000/v1' } },
    models: [
      {
        id: 'llama',
        targets: [
          { provider: 'vllm', model: 'a' },
          { provider: 'vllm', model: 'b' },
        ],
        fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
      },
    ],
  };
}

type Document = ReturnType<typeof baseDocument> & {
  providers: Record<string, Record<string, unknown>>;
  models: (Record<string, unknown> & {
    targets: Record<string, unknown>[];
    fallbacks: Record<string, unknown>[];
  })[];
};

function broken(edit: (doc: Document) => void): string {
  const doc = baseDocument() as Document;
  edit(doc);
  return write('doc.yaml', stringify(doc));
}

/** A rule broken: its name, the edit that breaks it, the problem reported. */
type Rule = [string, (doc: Document) => unknown, string];

const localOnlyRules: Rule[] = (
  [
    ['path', 'models/llama.gguf'],
    ['context_size', 512],
    ['threads', 2],
    ['contexts', 2],
  ] as const
).flatMap(([key, value]): Rule[] => [
  [
    `${key} on an upstream target`,
    (d) => (d.models[0]!.targets[1]![key] = value),
    `models[0].targets[1].${key}: applies only to provider local`,
  ],
  [
    `${key} on an upstream fallback`,
    (d) => (d.models[0]!.fallbacks[0]![key] = value),
    `models[0].fallbacks[0].${key}: applies only to provider local`,
  ],
]);

const localRangeRules: Rule[] = (
  [
    ['context_size', 15, 'from 16 to 1048576'],
    ['context_size', 1_048_577, 'from 16 to 1048576'],
    ['context_size', 512.5, 'from 16 to 1048576'],
    ['threads', 0, 'from 1 to 256'],
    ['threads', 257, 'from 1 to 256'],
    ['contexts', 0, 'from 1 to 64'],
    ['contexts', 65, 'from 1 to 64'],
    ['contexts', '2', 'from 1 to 64'],
  ] as const
).map(([key, value, range]): Rule => [
  `local ${key} ${JSON.stringify(value)}`,
  (d) => (d.models[0]!.targets[0] = { provider: 'local', model: 'tiny-wordnet', [key]: value }),
  `models[0].targets[0].${key}: must be an integer ${range}`,
]);

describe('loadModelsFile', () => {
  it('reads the documented YAML format, with its defaults', () => {
    expect(loadModelsFile(write('models.yaml', EXAMPLE_YAML), env)).toEqual(EXPECTED);
  });

  it('reads the same table from JSON and from .yml', () => {
    const asJson = JSON.stringify(parseYaml(EXAMPLE_YAML), null, 2);
    expect(loadModelsFile(write('models.json', asJson), env)).toEqual(EXPECTED);
    expect(loadModelsFile(write('models.yml', EXAMPLE_YAML), env)).toEqual(EXPECTED);
  });

  it('defaults owned_by to the first target provider', () => {
    const file = broken((doc) => delete doc.providers['vllm']?.['api_key_env']);
    expect(loadModelsFile(file, {}).routes[0]?.ownedBy).toBe('vllm');
  });

  it.each<Rule>([
    ['id pattern', (d: Document) => (d.models[0]!.id = '-llama'), 'models[0].id: must match'],
    ['id length', (d: Document) => (d.models[0]!.id = 'a'.repeat(129)), 'models[0].id: must match'],
    ['missing id', (d: Document) => delete d.models[0]!.id, 'models[0].id: is required'],
    [
      'duplicate id',
      (d: Document) => d.models.push({ ...d.models[0]! }),
      'models[1].id: duplicate id "llama"',
    ],
    [
      'provider name pattern',
      (d: Document) => (d.providers['My-vLLM'] = d.providers['vllm']!),
      'providers.My-vLLM: must match ^[a-z][a-z0-9_-]{0,31}$',
    ],
    [
      'provider name with a space (quoted in the path)',
      (d: Document) => (d.providers['my vllm'] = d.providers['vllm']!),
      'providers["my vllm"]: must match',
    ],
    [
      'built-in provider name',
      (d: Document) => (d.providers['openai'] = d.providers['vllm']!),
      'providers.openai: "openai" is a built-in provider',
    ],
    [
      'unknown target provider',
      (d: Document) => (d.models[0]!.targets[1]!.provider = 'ghost'),
      'models[0].targets[1].provider: unknown provider "ghost"',
    ],
    [
      'unknown fallback provider',
      (d: Document) => (d.models[0]!.fallbacks[0]!.provider = 'ghost'),
      'models[0].fallbacks[0].provider: unknown provider "ghost"',
    ],
    [
      'weight 0',
      (d: Document) => (d.models[0]!.targets[1]!.weight = 0),
      'models[0].targets[1].weight: must be an integer from 1 to 1000',
    ],
    [
      'weight 1001',
      (d: Document) => (d.models[0]!.targets[1]!.weight = 1001),
      'models[0].targets[1].weight: must be an integer from 1 to 1000',
    ],
    [
      'fractional weight',
      (d: Document) => (d.models[0]!.targets[1]!.weight = 1.5),
      'models[0].targets[1].weight: must be an integer from 1 to 1000',
    ],
    [
      'weight as text',
      (d: Document) => (d.models[0]!.targets[1]!.weight = '3'),
      'models[0].targets[1].weight: must be an integer from 1 to 1000',
    ],
    [
      'timeout too short',
      (d: Document) => (d.models[0]!.targets[0]!.timeout_ms = 99),
      'models[0].targets[0].timeout_ms: must be an integer from 100 to 600000',
    ],
    [
      'timeout too long',
      (d: Document) => (d.models[0]!.fallbacks[0]!.timeout_ms = 600_001),
      'models[0].fallbacks[0].timeout_ms: must be an integer from 100 to 600000',
    ],
    [
      'weight on a fallback',
      (d: Document) => (d.models[0]!.fallbacks[0]!.weight = 2),
      'models[0].fallbacks[0].weight: unknown key',
    ],
    ['no targets', (d: Document) => (d.models[0]!.targets = []), 'models[0].targets: must list'],
    ['no models', (d: Document) => (d.models = []), 'models: must list at least one model'],
    [
      'models missing',
      (d: Document) => delete (d as Partial<Document>).models,
      'models: is required',
    ],
    ['unknown top-level key', (d: Document) => (d['model'] = []), 'model: unknown key'],
    [
      'unknown model key',
      (d: Document) => (d.models[0]!['fallback'] = []),
      'models[0].fallback: unknown key',
    ],
    [
      'unknown target key',
      (d: Document) => (d.models[0]!.targets[0]!['timeout'] = 5),
      'models[0].targets[0].timeout: unknown key',
    ],
    [
      'unknown provider key',
      (d: Document) => (d.providers['vllm']!['api_key'] = 'sk-live'),
      'providers.vllm.api_key: unknown key',
    ],
    [
      'provider type',
      (d: Document) => (d.providers['vllm']!.type = 'ollama'),
      'providers.vllm.type: must be openai-compatible or anthropic',
    ],
    [
      'provider base_url',
      (d: Document) => (d.providers['vllm']!.base_url = 'ftp://vllm'),
      'providers.vllm.base_url: must be an http:// or https:// URL',
    ],
    [
      'a key where the variable name goes',
      (d: Document) => (d.providers['vllm']!.api_key_env = 'sk-live-123'),
      'providers.vllm.api_key_env: must be the name of an environment variable',
    ],
    [
      'a local model other than the bundled one without a path',
      (d: Document) => (d.models[0]!.targets[0] = { provider: 'local', model: 'llama' }),
      'models[0].targets[0].path: is required: the GGUF file of local model "llama" (only "tiny-wordnet" is bundled)',
    ],
    [
      'a local fallback without a path',
      (d: Document) => (d.models[0]!.fallbacks[0] = { provider: 'local', model: 'llama' }),
      'models[0].fallbacks[0].path: is required',
    ],
    ...localOnlyRules,
    [
      'an empty path',
      (d: Document) => (d.models[0]!.targets[0] = { provider: 'local', model: 'llama', path: '' }),
      'models[0].targets[0].path: must not be empty',
    ],
    [
      'a path that is not a string',
      (d: Document) => (d.models[0]!.targets[0] = { provider: 'local', model: 'llama', path: 7 }),
      'models[0].targets[0].path: must be a file path',
    ],
    ...localRangeRules,
    [
      'fallbacks not a list',
      (d: Document) => (d.models[0]!.fallbacks = {} as never),
      'models[0].fallbacks: must be a list',
    ],
  ])('rejects %s', (_rule, edit, expected) => {
    const problems = problemsOf(broken(edit));
    expect(problems).toEqual([expect.stringContaining(`MODELS_FILE: ${expected}`)]);
  });

  it('rejects a document that is not a mapping', () => {
    expect(problemsOf(write('list.yaml', '- a\n- b\n'))).toEqual([
      'MODELS_FILE: (top level): must be a mapping with providers and models',
    ]);
  });

  it('reports every problem at once', () => {
    const file = broken((d) => {
      d.models[0]!.targets[0]!.weight = 0;
      d.models[0]!.targets[1]!.provider = 'ghost';
      d.models.push({ ...d.models[0]!, targets: [{ provider: 'vllm', model: 'c' }] });
    });
    expect(problemsOf(file)).toEqual([
      'MODELS_FILE: models[0].targets[0].weight: must be an integer from 1 to 1000',
      expect.stringContaining('MODELS_FILE: models[0].targets[1].provider: unknown provider'),
      'MODELS_FILE: models[1].id: duplicate id "llama"',
    ]);
  });

  it('rejects unreadable files, unknown extensions and syntax errors', () => {
    expect(problemsOf(path.join(dir, 'missing.yaml'))).toEqual([
      `MODELS_FILE: cannot read file ${path.join(dir, 'missing.yaml')} (ENOENT)`,
    ]);
    expect(problemsOf(write('models.toml', 'x = 1'))[0]).toMatch(
      /^MODELS_FILE: .*models\.toml must end in \.yaml, \.yml or \.json$/,
    );
    expect(problemsOf(write('bad.yaml', 'models: [\n'))[0]).toMatch(
      /^MODELS_FILE: .*bad\.yaml is not valid yaml: /,
    );
    expect(problemsOf(write('dup.yaml', 'models: []\nmodels: []\n'))[0]).toMatch(
      /is not valid yaml: .*[Uu]nique/,
    );
    expect(problemsOf(write('bad.json', '{"models": [}'))[0]).toMatch(
      /^MODELS_FILE: .*bad\.json is not valid json: /,
    );
  });

  it('reads the api key from the named environment variable, and requires it to be set', () => {
    const file = write('models.yaml', EXAMPLE_YAML);
    expect(loadModelsFile(file, { VLLM_API_KEY: ' k ' }).providers[0]?.apiKey).toBe('k');
    const expected = [
      'MODELS_FILE: providers.vllm.api_key_env: environment variable VLLM_API_KEY is not set',
    ];
    expect(problemsOf(file, {})).toEqual(expected);
    expect(problemsOf(file, { VLLM_API_KEY: '' })).toEqual(expected);
  });

  it('overrides a built-in id, which the router then serves from the file', async () => {
    const file = write(
      'override.yaml',
      stringify({
        providers: { vllm: { type: 'openai-compatible', base_url: 'http://vllm/v1' } },
        models: [{ id: 'gpt-4o', targets: [{ provider: 'vllm', model: 'qwen2.5-72b' }] }],
      }),
    );
    const vllm = new ScriptedProvider('vllm');
    const router = new ModelRouter({
      routes: withBuiltInRoutes(loadModelsFile(file, {}).routes),
      providers: providerMap(new ScriptedProvider('local'), vllm),
    });
    expect(router.list().map((m) => [m.id, m.ownedBy])).toEqual([
      ['tiny-wordnet', 'local'],
      ['gpt-4o', 'vllm'],
    ]);
    const signal = new AbortController().signal;
    const input = { kind: 'text' as const, prompt: 'hi' };
    const request = { input, maxTokens: 4, temperature: 0, topP: 1, stop: [], signal };
    for await (const _event of router.generate('gpt-4o', request)) {
      // drain
    }
    expect(vllm.calls[0]?.model).toBe('qwen2.5-72b');
  });
});

describe('loadModelsFile: local models', () => {
  /** A routing table in a directory of its own, so relative paths have a known base. */
  function tableIn(document: unknown): { file: string; base: string } {
    const base = mkdtempSync(path.join(dir, 'table-'));
    const file = path.join(base, 'models.yaml');
    writeFileSync(file, stringify(document));
    return { file, base };
  }

  const local = (model: string, extra: Record<string, unknown> = {}) => ({
    provider: 'local',
    model,
    ...extra,
  });

  it('reads path and settings, a relative path against the file directory', () => {
    const { file, base } = tableIn({
      models: [
        {
          id: 'llama',
          targets: [
            local('llama-q4', {
              path: 'weights/llama-q4.gguf',
              context_size: 2048,
              threads: 2,
              contexts: 3,
            }),
          ],
          fallbacks: [local('backup', { path: '/srv/models/backup.gguf' })],
        },
        { id: 'dictionary', targets: [local('tiny-wordnet', { context_size: 64 })] },
      ],
    });
    const loaded = loadModelsFile(file, {});
    expect(loaded.localModels).toEqual([
      {
        name: 'llama-q4',
        path: path.join(base, 'weights', 'llama-q4.gguf'),
        contextSize: 2048,
        threads: 2,
        contexts: 3,
      },
      { name: 'backup', path: '/srv/models/backup.gguf' },
      { name: 'tiny-wordnet', contextSize: 64 },
    ]);
    expect(path.isAbsolute(loaded.localModels[0]?.path ?? '')).toBe(true);
    // The settings describe the model, not the route: targets carry only the routing fields.
    expect(loaded.routes[0]?.targets).toEqual([
      { provider: 'local', model: 'llama-q4', weight: 1, timeoutMs: 300_000 },
    ]);
  });

  it('resolves a relative path from the file, not from the working directory', () => {
    const { file, base } = tableIn({
      models: [{ id: 'm', targets: [local('m', { path: '../shared/m.gguf' })] }],
    });
    expect(loadModelsFile(file, {}).localModels[0]?.path).toBe(
      path.resolve(base, '..', 'shared', 'm.gguf'),
    );
  });

  it('lets many targets name one local model when they agree on it', () => {
    const { file, base } = tableIn({
      models: [
        { id: 'a', targets: [local('m', { path: 'm.gguf', threads: 2 })] },
        {
          id: 'b',
          targets: [{ provider: 'openai', model: 'gpt-4o' }],
          fallbacks: [local('m', { path: './m.gguf', threads: 2 })],
        },
      ],
    });
    expect(loadModelsFile(file, {}).localModels).toEqual([
      { name: 'm', path: path.join(base, 'm.gguf'), threads: 2 },
    ]);
  });

  it.each([
    ['another path', { path: 'other.gguf', threads: 2 }],
    ['another context_size', { path: 'm.gguf', threads: 2, context_size: 256 }],
    ['a setting left out', { path: 'm.gguf' }],
  ])('rejects one local model name with %s in two places, naming both', (_case, second) => {
    const { file } = tableIn({
      models: [
        { id: 'a', targets: [local('m', { path: 'm.gguf', threads: 2 })] },
        { id: 'b', targets: [{ provider: 'openai', model: 'x' }], fallbacks: [local('m', second)] },
      ],
    });
    expect(problemsOf(file, {})).toEqual([
      'MODELS_FILE: models[1].fallbacks[0]: local model "m" has other settings than at models[0].targets[0]',
    ]);
  });

  it('has no local models when no target is local', () => {
    const { file } = tableIn({
      models: [{ id: 'x', targets: [{ provider: 'openai', model: 'x' }] }],
    });
    expect(loadModelsFile(file, {}).localModels).toEqual([]);
  });
});
