import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import {
  BUILT_IN_PROVIDER_NAMES,
  DEFAULT_TARGET_TIMEOUT_MS,
  DEFAULT_TARGET_WEIGHT,
  ROUTE_CREATED,
} from '../domain/routing/built-in-routes.js';
import { DEFAULT_CAPABILITIES, type RouteCapabilities } from '../domain/inference/capabilities.js';
import type { ModelRoute, UpstreamTarget } from '../domain/ports.js';
import { ConfigError } from './config-error.js';
import { modelsFileSchema, type ModelsFileDocument } from './models-file-schema.js';

const SETTING = 'MODELS_FILE';

/** An upstream defined under `providers`, with its key already read from the environment. */
export interface UpstreamProviderConfig {
  name: string;
  type: 'openai-compatible' | 'anthropic';
  baseUrl: string;
  apiKey?: string;
}

/** A `provider: local` target's file and settings; unset fields take the LOCAL_MODEL_* defaults. */
export interface LocalModelEntry {
  name: string;
  /** Absolute; a relative path in the file is relative to the file's directory. */
  path?: string;
  contextSize?: number;
  threads?: number;
  contexts?: number;
}

export interface ModelsFile {
  providers: UpstreamProviderConfig[];
  /** One per local model name the file's targets use. */
  localModels: LocalModelEntry[];
  /** The file's routes only; combine with the built-in table through withBuiltInRoutes. */
  routes: ModelRoute[];
}

/**
 * Reads and validates the routing table. Every problem is reported at once, each as
 * `MODELS_FILE: <where in the file>: <what is wrong>`, so one restart fixes them all.
 */
export function loadModelsFile(file: string, env: NodeJS.ProcessEnv = process.env): ModelsFile {
  const document = parseDocument(file);
  const known = new Set<string>([...BUILT_IN_PROVIDER_NAMES, ...definedProviderNames(document)]);
  const parsed = modelsFileSchema(known).safeParse(document, { error: requiredMessage });
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap(describeIssue)),
    ...duplicateIds(document),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const noEmbeddings = routesEmbeddingWithout(parsed.data);
  if (noEmbeddings.length > 0) throw new ConfigError(noEmbeddings);
  const providers = resolveProviders(parsed.data, env);
  const localModels = collectLocalModels(parsed.data, path.dirname(path.resolve(file)));
  return { providers, localModels, routes: parsed.data.models.map(toRoute) };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`${SETTING}: cannot read file ${file} (${reason})`]);
  }
}

function parseDocument(file: string): unknown {
  const extension = path.extname(file).toLowerCase();
  const parse =
    extension === '.json'
      ? (text: string): unknown => JSON.parse(text)
      : extension === '.yaml' || extension === '.yml'
        ? (text: string): unknown => parseYaml(text)
        : undefined;
  if (!parse) throw new ConfigError([`${SETTING}: ${file} must end in .yaml, .yml or .json`]);
  const text = readText(file);
  try {
    return parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError([`${SETTING}: ${file} is not valid ${extension.slice(1)}: ${reason}`]);
  }
}

function field(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return (value as Record<string, unknown>)[key];
}

/** Names under `providers`, read before validation so targets can be checked against them. */
function definedProviderNames(document: unknown): string[] {
  const providers = field(document, 'providers');
  if (typeof providers !== 'object' || providers === null || Array.isArray(providers)) return [];
  return Object.keys(providers);
}

/** Checked on the raw document so a duplicate is reported alongside every other problem. */
function duplicateIds(document: unknown): string[] {
  const models = field(document, 'models');
  if (!Array.isArray(models)) return [];
  const seen = new Set<string>();
  const problems: string[] = [];
  models.forEach((model: unknown, index) => {
    const id = field(model, 'id');
    if (typeof id !== 'string') return;
    if (seen.has(id)) {
      problems.push(`${SETTING}: ${formatPath(['models', index, 'id'])}: duplicate id "${id}"`);
    }
    seen.add(id);
  });
  return problems;
}

function requiredMessage(issue: { code: string; input?: unknown }): string | undefined {
  if (issue.input !== undefined) return undefined;
  return issue.code === 'invalid_type' || issue.code === 'invalid_value'
    ? 'is required'
    : undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const at = (extra: PropertyKey[] = []) => `${SETTING}: ${formatPath([...issue.path, ...extra])}`;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${at([key])}: ${unknownKeyMessage(issue.path, key)}`);
  }
  if (issue.code === 'invalid_key') {
    return [`${at()}: ${issue.issues[0]?.message ?? 'invalid name'}`];
  }
  return [`${at()}: ${issue.message}`];
}

function unknownKeyMessage(where: readonly PropertyKey[], key: string): string {
  if (key === 'weight' && where.includes('fallbacks')) {
    return 'unknown key (weight applies to targets; fallbacks are tried in order)';
  }
  return 'unknown key';
}

/** `models[0].targets[1].weight`; keys that are not plain words are quoted. */
export function formatPath(segments: readonly PropertyKey[]): string {
  if (segments.length === 0) return '(top level)';
  return segments
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `[${JSON.stringify(key)}]`;
      return index === 0 ? key : `.${key}`;
    })
    .join('');
}

/**
 * A route declared for embeddings must be able to embed on every row: Anthropic has no embeddings
 * API, so such a row would fail every request (or silently never be used as a fallback).
 */
function routesEmbeddingWithout(document: ModelsFileDocument): string[] {
  const anthropic = new Set([
    'anthropic',
    ...Object.entries(document.providers ?? {})
      .filter(([, definition]) => definition.type === 'anthropic')
      .map(([name]) => name),
  ]);
  return document.models.flatMap((model, index) => {
    if (model.capabilities?.embeddings !== true) return [];
    const rows: [string, { provider: string }[]][] = [
      ['targets', model.targets],
      ['fallbacks', model.fallbacks ?? []],
    ];
    return rows.flatMap(([list, listRows]) =>
      listRows.flatMap((row, position) =>
        anthropic.has(row.provider)
          ? [
              `${SETTING}: ${formatPath(['models', index, list, position, 'provider'])}: "${row.provider}" is an Anthropic API, which has no embeddings (capabilities.embeddings is true)`,
            ]
          : [],
      ),
    );
  });
}

function resolveProviders(
  document: ModelsFileDocument,
  env: NodeJS.ProcessEnv,
): UpstreamProviderConfig[] {
  const problems: string[] = [];
  const providers = Object.entries(document.providers ?? {}).map(([name, definition]) => {
    const provider: UpstreamProviderConfig = {
      name,
      type: definition.type,
      baseUrl: definition.base_url,
    };
    const variable = definition.api_key_env;
    if (variable === undefined) return provider;
    const key = env[variable]?.trim();
    if (!key) {
      problems.push(
        `${SETTING}: ${formatPath(['providers', name, 'api_key_env'])}: environment variable ${variable} is not set`,
      );
      return provider;
    }
    return { ...provider, apiKey: key };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return providers;
}

type DocumentModel = ModelsFileDocument['models'][number];
type DocumentRow = {
  provider: string;
  model: string;
  weight?: number;
  timeout_ms?: number;
  path?: string | undefined;
  context_size?: number | undefined;
  threads?: number | undefined;
  contexts?: number | undefined;
};

/** A model name may appear in many targets, but must mean one file with one set of settings. */
function collectLocalModels(document: ModelsFileDocument, baseDir: string): LocalModelEntry[] {
  const entries = new Map<string, { entry: LocalModelEntry; where: string }>();
  const problems: string[] = [];
  document.models.forEach((model, index) => {
    const rows: [string, DocumentRow[]][] = [
      ['targets', model.targets],
      ['fallbacks', model.fallbacks ?? []],
    ];
    for (const [list, listRows] of rows) {
      listRows.forEach((row, position) => {
        if (row.provider !== 'local') return;
        const where = formatPath(['models', index, list, position]);
        const entry: LocalModelEntry = {
          name: row.model,
          ...(row.path === undefined ? {} : { path: path.resolve(baseDir, row.path) }),
          ...(row.context_size === undefined ? {} : { contextSize: row.context_size }),
          ...(row.threads === undefined ? {} : { threads: row.threads }),
          ...(row.contexts === undefined ? {} : { contexts: row.contexts }),
        };
        const earlier = entries.get(row.model);
        if (!earlier) {
          entries.set(row.model, { entry, where });
        } else if (JSON.stringify(earlier.entry) !== JSON.stringify(entry)) {
          problems.push(
            `${SETTING}: ${where}: local model "${row.model}" has other settings than at ${earlier.where}`,
          );
        }
      });
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return [...entries.values()].map(({ entry }) => entry);
}

function toTarget(row: DocumentRow): UpstreamTarget {
  return {
    provider: row.provider,
    model: row.model,
    weight: row.weight ?? DEFAULT_TARGET_WEIGHT,
    timeoutMs: row.timeout_ms ?? DEFAULT_TARGET_TIMEOUT_MS,
  };
}

function toRoute(model: DocumentModel): ModelRoute {
  const targets = model.targets.map(toTarget);
  return {
    id: model.id,
    // The schema guarantees a first target.
    ownedBy: model.owned_by ?? targets[0]?.provider ?? 'local',
    created: ROUTE_CREATED,
    targets,
    fallbacks: (model.fallbacks ?? []).map(toTarget),
    ...(model.capabilities === undefined
      ? {}
      : { capabilities: toCapabilities(model.capabilities) }),
  };
}

/** The file's snake_case keys as the domain spells them; unset keys stay unset. */
function toCapabilities(declared: NonNullable<DocumentModel['capabilities']>): RouteCapabilities {
  const optional = {
    tools: declared.tools,
    vision: declared.vision,
    jsonSchema: declared.json_schema,
    contextWindow: declared.context_window,
  };
  return {
    completions: declared.completions ?? DEFAULT_CAPABILITIES.completions,
    embeddings: declared.embeddings ?? DEFAULT_CAPABILITIES.embeddings,
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
  };
}
