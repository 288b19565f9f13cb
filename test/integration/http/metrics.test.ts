import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startMetricsServer,
  type MetricsServer,
} from '../../../src/observability/metrics-server.js';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';

let t: TestApp;
let api: Api;
let server: MetricsServer;
const token = AUTH.authorization.slice('Bearer '.length);

beforeAll(async () => {
  t = await startTestApp({ RESPONSE_CACHE_TTL_SECONDS: '0' });
  api = apiClient(t.app.http);
  server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry: t.app.metrics.registry,
    logger: t.app.http.log,
  });
});
afterAll(async () => {
  await server.close();
  await t.close();
});

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function value(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith(`${name}{`) &&
        Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('/metrics of the full app', () => {
  it('counts a known sequence of requests exactly, by route template', async () => {
    for (let i = 0; i < 3; i += 1) await api('GET', '/v1/models', { token });
    await api('GET', '/v1/models/tiny-wordnet', { token });
    await api('GET', '/v1/models/ghost', { token });
    await api('GET', '/no/such/path-123', { token });
    await api('GET', '/v1/models', { token: 'sk-wrong' });
    for (let i = 0; i < 2; i += 1) {
      await api('POST', '/v1/completions', {
        token,
        body: { model: 'tiny-wordnet', prompt: 'Count me', max_tokens: 3 },
      });
    }
    await api('POST', '/v1/completions', {
      token,
      body: { model: 'tiny-wordnet', prompt: 'x', temperature: 9 },
    });

    const text = await scrape();
    expect(value(text, 'http_requests_total', { route: '/v1/models', status: '200' })).toBe(3);
    expect(value(text, 'http_requests_total', { route: '/v1/models', status: '401' })).toBe(1);
    expect(value(text, 'http_requests_total', { route: '/v1/models/:id', status: '200' })).toBe(1);
    expect(value(text, 'http_requests_total', { route: '/v1/models/:id', status: '404' })).toBe(1);
    expect(value(text, 'http_requests_total', { route: '/v1/completions', status: '200' })).toBe(2);
    expect(value(text, 'http_requests_total', { route: '/v1/completions', status: '422' })).toBe(1);
    expect(
      value(text, 'inference_requests_total', { model: 'tiny-wordnet', outcome: 'completed' }),
    ).toBe(2);
    expect(value(text, 'response_cache_total', { result: 'bypass' })).toBe(2);
    // Raw paths and ids never become label values.
    expect(text).not.toContain('path-123');
    expect(text).not.toContain('ghost');
    expect(text).toMatch(/^generation_gate_active /m);
  });
});
