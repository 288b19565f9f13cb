import { z } from 'zod';
import { BUILT_IN_PROVIDER_NAMES, LOCAL_MODEL_ID } from '../domain/routing/built-in-routes.js';

export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
export const PROVIDER_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const BUILT_IN: ReadonlySet<string> = new Set(BUILT_IN_PROVIDER_NAMES);

/**
 * One message per field whatever check failed, so the operator reads the rule rather than zod's
 * wording. A missing field falls through to the parse-wide map ("is required").
 */
function rule(message: string) {
  return {
    error: (issue: { input?: unknown }) => (issue.input === undefined ? undefined : message),
  };
}

function intBetween(min: number, max: number) {
  const message = rule(`must be an integer from ${min} to ${max}`);
  return z.number(message).int(message).min(min, message).max(max, message);
}

const httpUrl = z
  .string(rule('must be an http:// or https:// URL'))
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

const providerName = z
  .string()
  .regex(PROVIDER_NAME_PATTERN, 'must match ^[a-z][a-z0-9_-]{0,31}$')
  .refine((name) => !BUILT_IN.has(name), {
    error: (issue) => `"${String(issue.input)}" is a built-in provider and cannot be redefined`,
  });

const providerSchema = z.strictObject({
  type: z.enum(['openai-compatible', 'anthropic'], rule('must be openai-compatible or anthropic')),
  base_url: httpUrl,
  api_key_env: z
    .string(rule('must be the name of an environment variable'))
    .regex(ENV_NAME_PATTERN, 'must be the name of an environment variable, not a key')
    .optional(),
});

/** `known`: every provider name a target may use (built-in and defined in the file). */
function targetFields(known: ReadonlySet<string>) {
  return {
    provider: z.string(rule('must be a provider name')).refine((name) => known.has(name), {
      error: (issue) =>
        `unknown provider "${String(issue.input)}" (built-in: ${BUILT_IN_PROVIDER_NAMES.join(', ')}; or define it under providers)`,
    }),
    model: z.string(rule('must be a string')).min(1, 'must not be empty').max(256, 'is too long'),
    timeout_ms: intBetween(100, 600_000).optional(),
    // Local (llama.cpp) targets only: the GGUF file and how to run it.
    path: z.string(rule('must be a file path')).min(1, 'must not be empty').optional(),
    context_size: intBetween(16, 1_048_576).optional(),
    threads: intBetween(1, 256).optional(),
    contexts: intBetween(1, 64).optional(),
  };
}

const LOCAL_ONLY = ['path', 'context_size', 'threads', 'contexts'] as const;

/** Caught here rather than as a failed request on every call to the route. */
function localFieldsOnLocalTargets(
  row: { provider: string; model: string } & Partial<Record<(typeof LOCAL_ONLY)[number], unknown>>,
  ctx: z.RefinementCtx,
): void {
  if (row.provider !== 'local') {
    for (const key of LOCAL_ONLY) {
      if (row[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'applies only to provider local' });
      }
    }
  } else if (row.model !== LOCAL_MODEL_ID && row.path === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['path'],
      message: `is required: the GGUF file of local model "${row.model}" (only "${LOCAL_MODEL_ID}" is bundled)`,
    });
  }
}

/**
 * What a route may be used for. Unset fields keep their meaning from before they existed:
 * completions yes, embeddings no, and tools / vision / json_schema / context_window left to the
 * provider. The three feature flags only qualify completions, so on a route without them they
 * are a mistake worth stopping the start for.
 */
const COMPLETION_FEATURES = ['tools', 'vision', 'json_schema'] as const;

const capabilitiesSchema = z
  .strictObject(
    {
      completions: z.boolean(rule('must be true or false')).optional(),
      embeddings: z.boolean(rule('must be true or false')).optional(),
      tools: z.boolean(rule('must be true or false')).optional(),
      vision: z.boolean(rule('must be true or false')).optional(),
      json_schema: z.boolean(rule('must be true or false')).optional(),
      context_window: intBetween(16, 16_777_216).optional(),
    },
    rule(
      'must be a mapping of completions, embeddings, tools, vision, json_schema, context_window',
    ),
  )
  .superRefine((c, ctx) => {
    if (c.completions === false && c.embeddings !== true) {
      ctx.addIssue({
        code: 'custom',
        message: 'must allow completions or embeddings (a model that serves nothing is not listed)',
      });
    }
    if (c.completions !== false) return;
    for (const key of COMPLETION_FEATURES) {
      if (c[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'applies to completions, which this model does not serve',
        });
      }
    }
  });

export function modelsFileSchema(known: ReadonlySet<string>) {
  const fields = targetFields(known);
  const target = z
    .strictObject({ ...fields, weight: intBetween(1, 1000).optional() })
    .superRefine(localFieldsOnLocalTargets);
  // `weight` shares traffic among targets only; fallbacks are tried strictly in order.
  const fallback = z.strictObject(fields).superRefine(localFieldsOnLocalTargets);
  const model = z.strictObject({
    id: z
      .string(rule('must be a string'))
      .regex(MODEL_ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$'),
    owned_by: z
      .string(rule('must be a string'))
      .trim()
      .min(1, 'must not be empty')
      .max(64, 'must be at most 64 characters')
      .optional(),
    targets: z.array(target, rule('must be a list')).min(1, 'must list at least one target'),
    fallbacks: z.array(fallback, rule('must be a list')).optional(),
    capabilities: capabilitiesSchema.optional(),
  });
  return z.strictObject(
    {
      providers: z.record(providerName, providerSchema, rule('must be a mapping')).optional(),
      models: z.array(model, rule('must be a list')).min(1, 'must list at least one model'),
    },
    rule('must be a mapping with providers and models'),
  );
}

export type ModelsFileDocument = z.infer<ReturnType<typeof modelsFileSchema>>;
