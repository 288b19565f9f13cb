import type { FastifySchema } from 'fastify';
import type { JsonObject } from './document.js';

export const SCHEMA_BASE = 'https://inference-api.local/schemas/';

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

interface Operation {
  operationId?: string;
  parameters?: (Parameter | { $ref: string })[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonObject }> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Points `#/components/schemas/X` at the id under which X is registered with Ajv. */
export function rewriteRefs<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => rewriteRefs(item)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value as JsonObject)) {
    if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/')) {
      out[key] = SCHEMA_BASE + child.slice('#/components/schemas/'.length);
    } else if (key.startsWith('x-') || key === 'example') {
      // Annotations for people and tooling, not validation keywords; Ajv's strict mode rejects them.
      continue;
    } else {
      out[key] = rewriteRefs(child);
    }
  }
  return out as T;
}

function resolveParameter(doc: JsonObject, param: Parameter | { $ref: string }): Parameter {
  if (!('$ref' in param)) return param;
  const name = param.$ref.replace('#/components/parameters/', '');
  const components = doc.components as { parameters?: Record<string, Parameter> } | undefined;
  const resolved = components?.parameters?.[name];
  if (!resolved) throw new Error(`OpenAPI: unresolved parameter ${param.$ref}`);
  return resolved;
}

function objectOf(params: Parameter[]): JsonObject {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, rewriteRefs(p.schema ?? {})])),
    required: params.filter((p) => p.required).map((p) => p.name),
    additionalProperties: false,
  };
}

/**
 * Builds Fastify route schemas (body, querystring, params) for every operation, keyed by
 * operationId, straight from the document: the document is the only copy of each schema.
 */
export function routeSchemasByOperation(doc: JsonObject): Map<string, FastifySchema> {
  const result = new Map<string, FastifySchema>();
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation & JsonObject>>;
  for (const pathItem of Object.values(paths)) {
    const shared = (pathItem.parameters as Parameter[] | undefined) ?? [];
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!operation?.operationId) continue;
      const params = [...shared, ...(operation.parameters ?? [])].map((p) =>
        resolveParameter(doc, p),
      );
      const schema: FastifySchema = {};
      const query = params.filter((p) => p.in === 'query');
      const path = params.filter((p) => p.in === 'path');
      if (query.length > 0) schema.querystring = objectOf(query);
      else if (method === 'get' || method === 'delete') schema.querystring = objectOf([]);
      if (path.length > 0) schema.params = objectOf(path);
      const body = operation.requestBody?.content?.['application/json']?.schema;
      if (body) schema.body = rewriteRefs(body);
      result.set(operation.operationId, schema);
    }
  }
  return result;
}

export function componentSchemas(doc: JsonObject): [string, JsonObject][] {
  const components = doc.components as { schemas?: Record<string, JsonObject> } | undefined;
  return Object.entries(components?.schemas ?? {}).map(([name, schema]) => [
    SCHEMA_BASE + name,
    { ...rewriteRefs(schema), $id: SCHEMA_BASE + name },
  ]);
}
