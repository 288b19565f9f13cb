// A tiny OTLP/HTTP trace receiver for the benchmark: accepts POST /v1/traces, answers 200 with an
// empty ExportTraceServiceResponse as a collector does, and counts what arrived, so the report can
// show the spans were really exported (and how many per request). It decodes JSON bodies (what
// @opentelemetry/exporter-trace-otlp-http sends) to count spans by name; protobuf bodies are
// counted in requests and bytes only.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

const HOST = '127.0.0.1';

/** Span counts by name in one OTLP/JSON ExportTraceServiceRequest. */
function spansIn(body, byName) {
  let total = 0;
  for (const resource of JSON.parse(body).resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        total += 1;
        byName.set(span.name, (byName.get(span.name) ?? 0) + 1);
      }
    }
  }
  return total;
}

/**
 * Resolves to { url, counts(), close() } once listening; `url` is what OTEL_EXPORTER_OTLP_ENDPOINT
 * takes. counts() is a snapshot: { requests, bytes, spans, rejected, byName: { name: count } }.
 */
export function startOtlpSink() {
  const totals = { requests: 0, bytes: 0, spans: 0, rejected: 0 };
  const byName = new Map();
  const server = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== '/v1/traces') {
      totals.rejected += 1;
      response.writeHead(404).end();
      request.resume();
      return;
    }
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      totals.requests += 1;
      totals.bytes += body.length;
      const json = (request.headers['content-type'] ?? '').includes('json');
      try {
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        if (json) totals.spans += spansIn(body.toString('utf8'), byName);
      } catch {
        totals.rejected += 1;
        response.writeHead(400).end();
        return;
      }
      // An empty ExportTraceServiceResponse: `{}` in JSON, zero bytes in protobuf.
      response
        .writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
        .end(json ? '{}' : undefined);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      resolve({
        url: `http://${HOST}:${port}`,
        counts: () => ({ ...totals, byName: Object.fromEntries(byName) }),
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
