type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A deterministic value that satisfies the simple JSON Schemas tests use (objects with required
 * and optional properties, arrays, enums, const, primitives, anyOf): what a fake model "answers"
 * to a tool or a `json_schema` response format. Every property is filled in, so tests see them.
 */
export function sampleFor(schema: unknown, name = 'value'): unknown {
  if (!isSchema(schema)) return {};
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants) && variants.length > 0) return sampleFor(variants[0], name);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type =
    types.find((candidate) => candidate !== 'null') ?? (schema.properties ? 'object' : undefined);
  switch (type) {
    case 'object': {
      const properties = isSchema(schema.properties) ? schema.properties : {};
      return Object.fromEntries(
        Object.entries(properties).map(([key, property]) => [key, sampleFor(property, key)]),
      );
    }
    case 'array': {
      const count = typeof schema.minItems === 'number' ? Math.max(1, schema.minItems) : 1;
      return Array.from({ length: count }, () => sampleFor(schema.items, name));
    }
    case 'string':
      return `fake ${name}`;
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}
