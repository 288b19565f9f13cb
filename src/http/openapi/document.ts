import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type JsonObject = Record<string, unknown>;

export interface OpenApiDocument {
  /** The parsed document. */
  doc: JsonObject;
  json: string;
  yaml: string;
}

/** The build copies openapi/ next to dist/src, so this relative path holds in both layouts. */
export const DEFAULT_DOCUMENT_URL = new URL('../../../openapi/openapi.yaml', import.meta.url);

export function loadOpenApiDocument(url: URL = DEFAULT_DOCUMENT_URL): OpenApiDocument {
  const yaml = readFileSync(url, 'utf8');
  const doc = parse(yaml) as JsonObject;
  if (typeof doc.openapi !== 'string' || !doc.openapi.startsWith('3.1')) {
    throw new Error(`${url.pathname} is not an OpenAPI 3.1 document`);
  }
  return { doc, json: JSON.stringify(doc), yaml };
}
