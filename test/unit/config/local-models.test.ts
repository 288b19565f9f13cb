import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { localModelSettings } from '../../../src/config/local-models.js';
import { loadModelsFile, type ModelsFile } from '../../../src/config/models-file.js';
import { withBuiltInRoutes } from '../../../src/domain/routing/built-in-routes.js';
import type { ModelRoute } from '../../../src/domain/ports.js';

const dir = mkdtempSync(path.join(tmpdir(), 'local-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BUNDLED = '/opt/inference-api/models/tiny-wordnet.gguf';
const config = { localModel: { threads: 1, contexts: 2, bundledPath: BUNDLED } };

let fileCount = 0;
/** The routing table as the app sees it: the file's routes over the built-in ones. */
function table(document: unknown): { modelsFile: ModelsFile; routes: ModelRoute[] } {
  fileCount += 1;
  const file = path.join(dir, `${fileCount}-models.yaml`);
  writeFileSync(file, stringify(document));
  const modelsFile = loadModelsFile(file, {});
  return { modelsFile, routes: withBuiltInRoutes(modelsFile.routes) };
}

const local = (model: string, extra: Record<string, unknown> = {}) => ({
  provider: 'local',
  model,
  ...extra,
});

describe('localModelSettings', () => {
  it('loads the bundled model from its bundled path with the defaults when there is no file', () => {
    expect(localModelSettings(config, undefined, withBuiltInRoutes([]))).toEqual([
      { name: 'tiny-wordnet', path: BUNDLED, threads: 1, contexts: 2, embeddings: true },
    ]);
  });

  it('takes its defaults from LOCAL_MODEL_THREADS and LOCAL_MODEL_CONTEXTS', () => {
    const fromEnv = loadConfig({ LOCAL_MODEL_THREADS: '3', LOCAL_MODEL_CONTEXTS: '5' });
    const [bundled] = localModelSettings(fromEnv, undefined, withBuiltInRoutes([]));
    expect(bundled).toMatchObject({ name: 'tiny-wordnet', threads: 3, contexts: 5 });
    expect(bundled?.path).toBe(fromEnv.localModel.bundledPath);
    expect(path.basename(bundled?.path ?? '')).toBe('tiny-wordnet.gguf');
  });

  it("prefers a target's own settings, each one separately", () => {
    const { modelsFile, routes } = table({
      models: [
        {
          id: 'llama',
          targets: [local('llama-q4', { path: '/srv/llama-q4.gguf', context_size: 2048 })],
        },
        {
          id: 'fast',
          targets: [local('fast', { path: '/srv/fast.gguf', threads: 4, contexts: 1 })],
        },
      ],
    });
    expect(localModelSettings(config, modelsFile, routes)).toEqual([
      { name: 'tiny-wordnet', path: BUNDLED, threads: 1, contexts: 2, embeddings: true },
      {
        name: 'llama-q4',
        path: '/srv/llama-q4.gguf',
        contextSize: 2048,
        threads: 1,
        contexts: 2,
        embeddings: false,
      },
      { name: 'fast', path: '/srv/fast.gguf', threads: 4, contexts: 1, embeddings: false },
    ]);
  });

  it('finds the bundled file for tiny-wordnet named in the file without a path', () => {
    const { modelsFile, routes } = table({
      models: [{ id: 'dictionary', targets: [local('tiny-wordnet', { context_size: 64 })] }],
    });
    // One model name, one load: the built-in route and the file's route share it.
    expect(localModelSettings(config, modelsFile, routes)).toEqual([
      {
        name: 'tiny-wordnet',
        path: BUNDLED,
        contextSize: 64,
        threads: 1,
        contexts: 2,
        embeddings: true,
      },
    ]);
  });

  it('uses a path given for tiny-wordnet instead of the bundled one', () => {
    const { modelsFile, routes } = table({
      models: [{ id: 'dictionary', targets: [local('tiny-wordnet', { path: '/srv/tw.gguf' })] }],
    });
    expect(localModelSettings(config, modelsFile, routes)).toEqual([
      { name: 'tiny-wordnet', path: '/srv/tw.gguf', threads: 1, contexts: 2, embeddings: true },
    ]);
  });

  it('loads only models some route can reach, fallbacks included', () => {
    const { modelsFile, routes } = table({
      models: [
        // Replaces the built-in route: nothing reaches the bundled model any more.
        { id: 'tiny-wordnet', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
        {
          id: 'resilient',
          targets: [{ provider: 'openai', model: 'gpt-4o' }],
          fallbacks: [local('backup', { path: '/srv/backup.gguf' })],
        },
      ],
    });
    expect(localModelSettings(config, modelsFile, routes)).toEqual([
      { name: 'backup', path: '/srv/backup.gguf', threads: 1, contexts: 2, embeddings: false },
    ]);
    // Settings the file holds for a model no route uses load nothing either.
    const unused: Pick<ModelsFile, 'localModels'> = {
      localModels: [{ name: 'unused', path: '/srv/unused.gguf' }],
    };
    expect(localModelSettings(config, unused, withBuiltInRoutes([])).map((m) => m.name)).toEqual([
      'tiny-wordnet',
    ]);
  });

  it('loads nothing when no route is local', () => {
    const { modelsFile, routes } = table({
      models: [{ id: 'tiny-wordnet', targets: [{ provider: 'openai', model: 'x' }] }],
    });
    expect(localModelSettings(config, modelsFile, routes)).toEqual([]);
  });

  it('refuses a reachable local model with no file', () => {
    const routes: ModelRoute[] = [
      {
        id: 'orphan',
        ownedBy: 'local',
        created: 0,
        targets: [{ provider: 'local', model: 'orphan', weight: 1, timeoutMs: 1000 }],
        fallbacks: [],
      },
    ];
    expect(() => localModelSettings(config, undefined, routes)).toThrow(ConfigError);
    expect(() => localModelSettings(config, { localModels: [] }, routes)).toThrow(
      'local model "orphan" needs a path to its GGUF file',
    );
  });
});
