import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** One finished (or abandoned) HTTP request, with the route as its template. */
export interface HttpRequestSample {
  method: string;
  /** The route template (`/v1/models/:id`) or `unmatched`; never the raw path. */
  route: string;
  statusCode: number;
  durationMs: number;
}

/**
 * The `HttpMetricsRecorder` that `registerHttpMetrics` takes, matched by shape: http and this
 * adapter may not import each other. The integration test passes one to the other, so the compiler
 * catches a drift.
 */
export interface HttpRecorder {
  observe(sample: HttpRequestSample): void;
  inFlight(delta: 1 | -1): void;
}

// Streams can run for minutes, so the buckets reach far past what a JSON request takes.
const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

// Node's parser accepts ~35 methods; only these are ours, the rest share one label value.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function statusClass(statusCode: number): string {
  const hundreds = Math.floor(statusCode / 100);
  return hundreds >= 1 && hundreds <= 5 ? `${hundreds}xx` : 'other';
}

/** The HTTP golden signals: traffic, errors and latency per route template, and in-flight. */
export function createHttpRecorder(registry: Registry): HttpRecorder {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from the start of a request to the end of its response (streams included)',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests answered, by status code; 499 is a client that left before the response ended',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests received whose response has not ended yet',
    registers: [registry],
  });
  return {
    observe({ method, route, statusCode, durationMs }) {
      const upper = method.toUpperCase();
      const known = KNOWN_METHODS.has(upper) ? upper : 'OTHER';
      duration.observe(
        { method: known, route, status_class: statusClass(statusCode) },
        durationMs / 1000,
      );
      requests.inc({ method: known, route, status: String(statusCode) });
    },
    inFlight(delta) {
      inFlight.inc(delta);
    },
  };
}
