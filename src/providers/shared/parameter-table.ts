import type { GenerationRequest } from '../../domain/ports.js';

/** The request fields a provider may send upstream (transport concerns are not parameters). */
export type RequestField = Exclude<
  keyof GenerationRequest,
  'signal' | 'forwardHeaders' | 'timeoutMs'
>;

type FieldRule<K extends RequestField> = {
  from: K;
  /** Dotted path in the upstream body, e.g. `stream_options.include_usage`. */
  to: string;
  /** Returns the upstream value; `undefined` leaves the field out. */
  transform?: (value: GenerationRequest[K], request: GenerationRequest) => unknown;
};

/** A field copied (or transformed) from the request. */
export type FieldParameterRule = { [K in RequestField]: FieldRule<K> }[RequestField];

/** A field every request carries with the same value. */
export interface ConstantParameterRule {
  to: string;
  value: unknown;
}

export type ParameterRule = FieldParameterRule | ConstantParameterRule;

/**
 * How a GenerationRequest becomes an upstream request body, as data: one named rule per upstream
 * field. Providers derive theirs from the OpenAI table with `extendParameters`, so a parameter
 * added there reaches every provider unless one opts out.
 */
export type ParameterTable = Readonly<Record<string, ParameterRule>>;

/** Replacement rules by name; `null` removes a rule the upstream does not support. */
export type ParameterOverrides = Readonly<Record<string, ParameterRule | null>>;

export function extendParameters(
  base: ParameterTable,
  overrides: ParameterOverrides,
): ParameterTable {
  const table: Record<string, ParameterRule> = { ...base };
  for (const [name, rule] of Object.entries(overrides)) {
    if (rule === null) delete table[name];
    else table[name] = rule;
  }
  return table;
}

function valueOf(rule: ParameterRule, request: GenerationRequest): unknown {
  if ('value' in rule) return rule.value;
  const value = request[rule.from];
  if (!rule.transform) return value;
  // The mapped type guarantees `transform` matches `from`; TypeScript cannot correlate the two.
  return (rule.transform as (value: unknown, request: GenerationRequest) => unknown)(
    value,
    request,
  );
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const child = node[key];
    if (child !== null && typeof child === 'object' && !Array.isArray(child)) {
      node = child as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  }
  node[keys[keys.length - 1] as string] = value;
}

/** The upstream request body for `request` under `table`. */
export function buildRequestBody(
  table: ParameterTable,
  request: GenerationRequest,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const rule of Object.values(table)) {
    const value = valueOf(rule, request);
    if (value !== undefined) setPath(body, rule.to, value);
  }
  return body;
}
