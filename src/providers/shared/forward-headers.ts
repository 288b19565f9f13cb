/**
 * Headers never forwarded: hop-by-hop ones (undici refuses several outright) and credentials, which
 * belong to our client and must not reach a third party.
 */
const BLOCKED = new Set([
  'authorization',
  'connection',
  'content-length',
  'content-type',
  'cookie',
  'expect',
  'host',
  'keep-alive',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-api-key',
]);

/** The request's forward headers (trace context and the like), lower-cased and filtered. */
export function forwardableHeaders(
  headers: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (!BLOCKED.has(key) && !key.startsWith('proxy-')) out[key] = value;
  }
  return out;
}
