import type { GbnfJsonSchema } from 'node-llama-cpp';
import { validationError } from '../../domain/errors.js';

type Schema = Record<string, unknown>;

/*
 * Every keyword not listed below only describes a schema (title, description, default, …, and any
 * JSON Schema does not define, by the specification's own rule), so the grammar may leave it out.
 * `required` is among them: it is met by writing every property, which node-llama-cpp's grammar
 * always does.
 */

/** Keywords llama.cpp's JSON grammar builder turns into grammar rules. */
const ENFORCED = new Set([
  'type',
  'properties',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'oneOf',
  'anyOf',
  'minLength',
  'maxLength',
  'format',
  '$ref',
  '$defs',
  'definitions',
]);

/** Constraints a grammar cannot express: refused by name rather than left unchecked. */
const UNENFORCEABLE = new Set([
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'pattern',
  'patternProperties',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'dependencies',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contains',
  'minContains',
  'maxContains',
  'uniqueItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  '$dynamicRef',
  '$recursiveRef',
]);

const FORMATS = new Set(['date-time', 'time', 'date']);
const SIMPLE_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/** Any JSON value: the schema `true` or `{}`. */
const ANY_VALUE: GbnfJsonSchema = {
  oneOf: [
    { type: ['string', 'number', 'boolean', 'null'] },
    { type: 'object', additionalProperties: true },
    { type: 'array' },
  ],
};

/** Any JSON object, for `response_format: json_object`. */
export const ANY_OBJECT: GbnfJsonSchema = { type: 'object', additionalProperties: true };

function refused(path: string, issue: string): never {
  throw validationError(path, issue);
}

/**
 * A client's JSON Schema as the schema node-llama-cpp builds a llama.cpp grammar from, so that
 * everything sampled under it is valid against the original. A keyword the grammar cannot enforce
 * (`pattern`, `minimum`, `allOf`, …) is a 422 naming it at `path`, never silently unchecked.
 * Objects are written with every property (node-llama-cpp's rule), which satisfies `required`.
 */
export function grammarSchema(schema: unknown, path: string): GbnfJsonSchema {
  const defs: Record<string, GbnfJsonSchema> = {};
  const root = convert(schema, path, defs);
  if (Object.keys(defs).length === 0) return root;
  return { ...root, $defs: defs } as GbnfJsonSchema;
}

function convert(
  schema: unknown,
  path: string,
  defs: Record<string, GbnfJsonSchema>,
): GbnfJsonSchema {
  if (schema === true) return ANY_VALUE;
  if (schema === false) refused(path, 'A schema that allows nothing cannot be generated');
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    refused(path, 'Is not a JSON Schema object');
  }
  const source = schema as Schema;
  for (const key of Object.keys(source)) {
    if (UNENFORCEABLE.has(key)) {
      refused(`${path}.${key}`, `The local model's grammar cannot enforce "${key}"`);
    }
  }
  for (const key of ['$defs', 'definitions'] as const) {
    const list = source[key];
    if (list === undefined) continue;
    if (typeof list !== 'object' || list === null) refused(`${path}.${key}`, 'Is not an object');
    for (const [name, def] of Object.entries(list)) {
      defs[name] = convert(def, `${path}.${key}.${name}`, defs);
    }
  }
  const description =
    typeof source.description === 'string' ? { description: source.description } : {};
  if (typeof source.$ref === 'string') {
    const match = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(source.$ref);
    if (!match) refused(`${path}.$ref`, 'Only references to "#/$defs/…" can be generated');
    return { $ref: `#/$defs/${match[1]}`, ...description } as GbnfJsonSchema;
  }
  if ('const' in source) return { const: scalar(source.const, `${path}.const`), ...description };
  if (source.enum !== undefined) {
    if (!Array.isArray(source.enum) || source.enum.length === 0) {
      refused(`${path}.enum`, 'Is not a non-empty array');
    }
    return {
      enum: source.enum.map((value, index) => scalar(value, `${path}.enum[${index}]`)),
      ...description,
    };
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = source[key];
    if (options === undefined) continue;
    if (!Array.isArray(options) || options.length === 0) {
      refused(`${path}.${key}`, 'Is not a non-empty array');
    }
    const rest = Object.keys(source).filter(
      (other) =>
        other !== key && ENFORCED.has(other) && other !== '$defs' && other !== 'definitions',
    );
    // Keywords beside the alternatives would have to hold for each of them, which the grammar
    // of an alternative does not know.
    if (rest.length > 0) {
      refused(`${path}.${rest[0]}`, `The local model's grammar cannot combine it with "${key}"`);
    }
    return {
      oneOf: options.map((option, index) => convert(option, `${path}.${key}[${index}]`, defs)),
      ...description,
    };
  }
  return typed(source, path, defs, description);
}

function typed(
  source: Schema,
  path: string,
  defs: Record<string, GbnfJsonSchema>,
  description: { description?: string },
): GbnfJsonSchema {
  const declared = source.type;
  if (declared === undefined) {
    const looksLikeObject = source.properties !== undefined;
    if (!looksLikeObject) {
      const constraints = Object.keys(source).filter((key) => ENFORCED.has(key));
      if (constraints.length > 0) {
        refused(`${path}.type`, 'Is required beside ' + JSON.stringify(constraints[0]));
      }
      return ANY_VALUE;
    }
  }
  const types =
    declared === undefined ? ['object'] : Array.isArray(declared) ? declared : [declared];
  if (types.length === 0) refused(`${path}.type`, 'Is an empty list');
  const simple = types.filter((type) => SIMPLE_TYPES.has(type as string)) as (
    'string' | 'number' | 'integer' | 'boolean' | 'null'
  )[];
  const options: GbnfJsonSchema[] = [];
  for (const type of types) {
    if (type === 'object') options.push(objectSchema(source, path, defs));
    else if (type === 'array') options.push(arraySchema(source, path, defs));
    else if (!SIMPLE_TYPES.has(type as string)) {
      refused(`${path}.type`, `${JSON.stringify(type)} is not a JSON Schema type`);
    }
  }
  if (
    simple.includes('string') &&
    (source.minLength !== undefined ||
      source.maxLength !== undefined ||
      source.format !== undefined)
  ) {
    options.push(stringSchema(source, path));
    const others = simple.filter((type) => type !== 'string');
    if (others.length > 0)
      options.push({ type: others.length === 1 ? (others[0] as 'null') : others });
  } else if (simple.length > 0) {
    options.push({ type: simple.length === 1 ? (simple[0] as 'string') : simple });
  }
  const [only] = options;
  if (options.length === 1 && only) return { ...only, ...description } as GbnfJsonSchema;
  return { oneOf: options, ...description };
}

function stringSchema(source: Schema, path: string): GbnfJsonSchema {
  if (source.format !== undefined) {
    if (typeof source.format !== 'string' || !FORMATS.has(source.format)) {
      refused(
        `${path}.format`,
        `The local model's grammar enforces only the formats ${[...FORMATS].join(', ')}`,
      );
    }
    return { type: 'string', format: source.format as 'date' };
  }
  return {
    type: 'string',
    ...(source.minLength === undefined
      ? {}
      : { minLength: count(source.minLength, `${path}.minLength`) }),
    ...(source.maxLength === undefined
      ? {}
      : { maxLength: count(source.maxLength, `${path}.maxLength`) }),
  };
}

function objectSchema(
  source: Schema,
  path: string,
  defs: Record<string, GbnfJsonSchema>,
): GbnfJsonSchema {
  const properties: Record<string, GbnfJsonSchema> = {};
  const given = source.properties;
  if (given !== undefined) {
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      refused(`${path}.properties`, 'Is not an object');
    }
    for (const [name, property] of Object.entries(given)) {
      properties[name] = convert(property, `${path}.properties.${name}`, defs);
    }
  }
  const extra = source.additionalProperties;
  // JSON Schema allows any other property unless told otherwise; writing none is still valid,
  // so only an object without declared properties needs the grammar to allow them.
  const additional =
    extra === undefined
      ? given === undefined
      : typeof extra === 'boolean'
        ? extra
        : convert(extra, `${path}.additionalProperties`, defs);
  return {
    type: 'object',
    properties,
    additionalProperties: additional,
    ...(source.minProperties === undefined
      ? {}
      : { minProperties: count(source.minProperties, `${path}.minProperties`) }),
    ...(source.maxProperties === undefined
      ? {}
      : { maxProperties: count(source.maxProperties, `${path}.maxProperties`) }),
  } as GbnfJsonSchema;
}

function arraySchema(
  source: Schema,
  path: string,
  defs: Record<string, GbnfJsonSchema>,
): GbnfJsonSchema {
  const prefix = source.prefixItems;
  if (prefix !== undefined && !Array.isArray(prefix))
    refused(`${path}.prefixItems`, 'Is not an array');
  const items = source.items;
  if (Array.isArray(items)) refused(`${path}.items`, 'Use prefixItems for a tuple');
  return {
    type: 'array',
    ...(items === undefined || items === true
      ? {}
      : { items: convert(items, `${path}.items`, defs) }),
    ...(prefix === undefined
      ? {}
      : {
          prefixItems: prefix.map((item, index) =>
            convert(item, `${path}.prefixItems[${index}]`, defs),
          ),
        }),
    ...(source.minItems === undefined
      ? {}
      : { minItems: count(source.minItems, `${path}.minItems`) }),
    ...(source.maxItems === undefined
      ? {}
      : { maxItems: count(source.maxItems, `${path}.maxItems`) }),
  } as GbnfJsonSchema;
}

function scalar(value: unknown, path: string): string | number | boolean | null {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
    return value as string | number | boolean | null;
  }
  refused(path, "The local model's grammar can only match a string, number, boolean or null here");
}

function count(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    refused(path, 'Is not a non-negative integer');
  }
  return value;
}
