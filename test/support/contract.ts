import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { loadOpenApiDocument, type JsonObject } from '../../src/http/openapi/document.js';
import { componentSchemas, rewriteRefs } from '../../src/http/openapi/route-schemas.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: JsonObject }>;
}

/** Checks that what the server sends is what openapi/openapi.yaml says it sends. */
export function createContractChecker() {
  const { doc } = loadOpenApiDocument();
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  addFormats(ajv);
  ajv.addVocabulary(['discriminator', 'xml', 'externalDocs']);
  for (const [id, schema] of componentSchemas(doc)) ajv.addSchema(schema, id);
  const cache = new Map<string, ValidateFunction>();

  function responseSchema(method: string, path: string, status: number): JsonObject {
    const paths = doc.paths as Record<
      string,
      Record<string, { responses: Record<string, ResponseObject> }>
    >;
    const operation = paths[path]?.[method.toLowerCase()];
    if (!operation) throw new Error(`no operation ${method} ${path} in the document`);
    let response = operation.responses[String(status)];
    if (!response) throw new Error(`${method} ${path} documents no ${status} response`);
    if (response.$ref) {
      const name = response.$ref.replace('#/components/responses/', '');
      response = (doc.components as { responses: Record<string, ResponseObject> }).responses[
        name
      ] as ResponseObject;
    }
    const schema = response.content?.['application/json']?.schema;
    if (!schema) throw new Error(`${method} ${path} ${status} has no JSON schema`);
    return schema;
  }

  function check(schema: JsonObject, body: unknown, label: string): void {
    const key = JSON.stringify(schema);
    let validate = cache.get(key);
    if (!validate) {
      validate = ajv.compile(rewriteRefs(schema));
      cache.set(key, validate);
    }
    if (!validate(body)) {
      throw new Error(
        `${label} does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
      );
    }
  }

  return {
    /** `path` is the document's template, e.g. /v1/models/{id}. */
    response(method: string, path: string, status: number, body: unknown): void {
      check(responseSchema(method, path, status), body, `${method} ${path} ${status}`);
    },
    schema(name: string, body: unknown): void {
      check({ $ref: `#/components/schemas/${name}` }, body, name);
    },
  };
}
