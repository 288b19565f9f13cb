import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { ErrorDetail } from '../../domain/errors.js';
import type { JsonObject } from './document.js';
import { componentSchemas } from './route-schemas.js';

// ajv-formats ships CommonJS with a default export that NodeNext sees as a namespace.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function createAjv(coerceTypes: boolean, doc: JsonObject): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: false,
    strict: true,
    strictRequired: false,
    // Defaults from the document are applied, unknown fields are rejected, never silently removed.
    useDefaults: true,
    removeAdditional: false,
    coerceTypes,
    verbose: true,
  });
  addFormats(ajv);
  ajv.addVocabulary(['discriminator', 'xml', 'externalDocs']);
  for (const [id, schema] of componentSchemas(doc)) ajv.addSchema(schema, id);
  return ajv;
}

/**
 * Bodies are validated exactly as sent (a string "0.5" is not a number); query strings and path
 * parameters arrive as text, so there scalars are coerced to the documented type.
 */
export function createValidatorCompiler(doc: JsonObject): FastifySchemaCompiler<JsonObject> {
  const strictAjv = createAjv(false, doc);
  const coercingAjv = createAjv(true, doc);
  const cache = new Map<string, ValidateFunction>();
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strictAjv : coercingAjv;
    const key = `${httpPart ?? ''}:${JSON.stringify(schema)}`;
    let validate = cache.get(key);
    if (!validate) {
      validate = ajv.compile(schema);
      cache.set(key, validate);
    }
    return validate;
  };
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, segment) => {
      if (/^\d+$/.test(segment)) return `${path}[${segment}]`;
      return path === '' ? segment : `${path}.${segment}`;
    }, '');
}

function join(path: string, child: string): string {
  return path === '' ? child : `${path}.${child}`;
}

function formatNumber(value: unknown, schema: JsonObject | undefined): string {
  if (typeof value !== 'number') return String(value);
  return schema?.type === 'number' && Number.isInteger(value) ? value.toFixed(1) : String(value);
}

function describe(error: ErrorObject): ErrorDetail {
  const path = fieldPath(error.instancePath);
  const parent = error.parentSchema as JsonObject | undefined;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { field: join(path, String(params.missingProperty)), issue: 'Is required' };
    case 'additionalProperties':
      return {
        field: join(path, String(params.additionalProperty)),
        issue: 'Is not a recognised field',
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      if (parent && parent.minimum !== undefined && parent.maximum !== undefined) {
        return {
          field: path,
          issue: `Must be between ${formatNumber(parent.minimum, parent)} and ${formatNumber(parent.maximum, parent)}`,
        };
      }
      return { field: path, issue: `Must be ${String(params.comparison)} ${String(params.limit)}` };
    case 'minLength':
      return params.limit === 1
        ? { field: path, issue: 'Must not be empty' }
        : { field: path, issue: `Must be at least ${String(params.limit)} characters` };
    case 'maxLength':
      return { field: path, issue: `Must be at most ${String(params.limit)} characters` };
    case 'minItems':
      return { field: path, issue: `Must have at least ${String(params.limit)} item(s)` };
    case 'maxItems':
      return { field: path, issue: `Must have at most ${String(params.limit)} items` };
    case 'pattern':
      return {
        field: path,
        issue:
          parent?.pattern === '^[^\\x00]*$'
            ? 'Must not contain a NUL byte'
            : 'Has characters or a form that is not allowed',
      };
    case 'enum':
      return {
        field: path,
        issue: `Must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    case 'const':
      return { field: path, issue: `Must be ${JSON.stringify(params.allowedValue)}` };
    case 'type':
      return { field: path, issue: `Must be of type ${String(params.type)}` };
    case 'format':
      return { field: path, issue: `Must be a valid ${String(params.format)}` };
    case 'oneOf':
    case 'anyOf':
      return { field: path, issue: 'Does not match any allowed form' };
    default:
      return { field: path, issue: error.message ?? 'Is invalid' };
  }
}

function deepestInside(errors: ErrorObject[], outer: ErrorObject): ErrorObject | undefined {
  const prefix = `${outer.instancePath}/`;
  let deepest: ErrorObject | undefined;
  for (const error of errors) {
    // A wrong type inside is a branch of another form (strings where token ids were meant).
    if (error.keyword === 'type' || !error.instancePath.startsWith(prefix)) continue;
    if (!deepest || error.instancePath.length > deepest.instancePath.length) deepest = error;
  }
  return deepest;
}

/** Ajv errors in the contract's `details` form; the root of the body is called `body`. */
export function toDetails(errors: ErrorObject[], part: string): ErrorDetail[] {
  // For a value with alternative forms, the branch errors only confuse; report the alternation.
  // But a branch that matched the value's form and failed deeper inside it (a bad image URL in
  // content parts) says exactly what is wrong: the deepest such error, short of a wrong type, is
  // reported instead.
  const alternation = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').at(-1);
  const relevant = alternation ? [deepestInside(errors, alternation) ?? alternation] : errors;
  return relevant.map((error) => {
    const detail = describe(error);
    return detail.field === '' ? { ...detail, field: part } : detail;
  });
}
