import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createHttpRecorder, statusClass } from '../../../src/observability/http-recorder.js';
import { samples, valueOf } from './series.js';

describe('HTTP recorder', () => {
  it('counts by status and times by status class', async () => {
    const registry = new Registry();
    const http = createHttpRecorder(registry);
    const route = '/v1/models/:id';
    http.observe({ method: 'GET', route, statusCode: 200, durationMs: 20 });
    http.observe({ method: 'GET', route, statusCode: 204, durationMs: 30 });
    http.observe({ method: 'GET', route, statusCode: 404, durationMs: 5 });

    expect(await valueOf(registry, 'http_requests_total', { route, status: '200' })).toBe(1);
    expect(await valueOf(registry, 'http_requests_total', { route, status: '404' })).toBe(1);
    const twoXx = { method: 'GET', route, status_class: '2xx' };
    expect(await valueOf(registry, 'http_request_duration_seconds', twoXx, '_count')).toBe(2);
    expect(await valueOf(registry, 'http_request_duration_seconds', twoXx, '_sum')).toBeCloseTo(
      0.05,
    );
  });

  it('folds methods the API does not serve into one label value', async () => {
    const registry = new Registry();
    const http = createHttpRecorder(registry);
    http.observe({ method: 'PROPFIND', route: 'unmatched', statusCode: 404, durationMs: 1 });
    http.observe({ method: 'get', route: 'unmatched', statusCode: 404, durationMs: 1 });

    const methods = (await samples(registry, 'http_requests_total')).map((s) => s.labels.method);
    expect(methods).toEqual(['OTHER', 'GET']);
  });

  it('tracks requests in flight', async () => {
    const registry = new Registry();
    const http = createHttpRecorder(registry);
    http.inFlight(1);
    http.inFlight(1);
    http.inFlight(-1);
    expect(await valueOf(registry, 'http_requests_in_flight')).toBe(1);
  });

  it('names status classes', () => {
    expect([200, 301, 404, 499, 503].map(statusClass)).toEqual(['2xx', '3xx', '4xx', '4xx', '5xx']);
    expect(statusClass(0)).toBe('other');
  });
});
