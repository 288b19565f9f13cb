import { request as httpRequest } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/domain/logger.js';
import { registerHttpMetrics } from '../../../src/http/plugins/http-metrics.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics-registry.js';
import {
  startMetricsServer,
  type MetricsServer,
} from '../../../src/observability/metrics-server.js';
import { AUTH, startTestApp } from '../../support/app.js';
import { apiClient } from '../../support/client.js';
import { startFakeOpenAI } from '../../support/fake-upstreams/index.js';
import { REDIS_URL } from '../../support/redis.js';

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Enough of the Prometheus text format for prom-client's output (no escaped quotes in labels). */
function parse(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsed line: ${line}`);
    const [, name = '', rawLabels = '', value = ''] = match;
    const labels: Record<string, string> = {};
    for (const [, key = '', labelValue = ''] of rawLabels.matchAll(/(\w+)="([^"]*)"/g)) {
      labels[key] = labelValue;
    }
    series.push({ name, labels, value: Number(value) });
  }
  return series;
}

function pick(all: Series[], name: string, labels: Record<string, string> = {}): Series[] {
  return all.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function sum(all: Series[], name: string, labels: Record<string, string> = {}): number {
  return pick(all, name, labels).reduce((total, s) => total + s.value, 0);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('metrics over HTTP', () => {
  let metrics: Metrics;
  let app: FastifyInstance;
  let server: MetricsServer;
  let metricsUrl: string;
  let apiUrl: string;
  let releaseSlow: (() => void) | undefined;

  beforeAll(async () => {
    metrics = createMetrics({ redisCommands: true });
    metrics.watch({ generationGate: () => ({ active: 1, queued: 3 }) });
    app = Fastify({ logger: false });
    registerHttpMetrics(app, metrics.http);
    // An async onResponse hook like request-context's, to show ordering does not matter.
    app.addHook('onResponse', async () => {
      await delay(1);
    });
    app.get('/v1/items/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    app.post('/v1/fail', async () => {
      throw new Error('boom');
    });
    app.get('/v1/stream', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write('data: 1\n\n');
      // Never ends: only the client leaving finishes this request.
    });
    app.get('/v1/slow', async () => {
      await new Promise<void>((resolve) => (releaseSlow = resolve));
      return { late: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });

    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    apiUrl = `http://127.0.0.1:${address.port}`;
    server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      logger: silentLogger,
    });
    metricsUrl = `http://${server.address.host}:${server.address.port}/metrics`;
  });

  afterAll(async () => {
    releaseSlow?.();
    await server?.close();
    await app?.close();
    metrics?.close();
  });

  async function scrape(): Promise<Series[]> {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    return parse(await response.text());
  }

  /** Scrapes until the in-flight gauge is back to 0 (responses are recorded when they close). */
  async function settledScrape(): Promise<Series[]> {
    for (let i = 0; i < 100; i += 1) {
      const all = await scrape();
      if (sum(all, 'http_requests_in_flight') === 0) return all;
      await delay(10);
    }
    throw new Error('requests still in flight');
  }

  it('counts a known sequence of requests exactly, by route template', async () => {
    for (const id of ['item_7f3a', 'item_91bc', 'item_0042']) {
      expect((await fetch(`${apiUrl}/v1/items/${id}`)).status).toBe(200);
    }
    expect((await fetch(`${apiUrl}/v1/nope/secret_abc123`)).status).toBe(404);
    expect((await fetch(`${apiUrl}/admin/user_5521?token=t0k3n`)).status).toBe(404);
    expect((await fetch(`${apiUrl}/v1/fail`, { method: 'POST' })).status).toBe(500);

    const all = await settledScrape();
    const requests = pick(all, 'http_requests_total');
    expect(requests.map((s) => ({ ...s.labels, value: s.value }))).toEqual(
      expect.arrayContaining([
        { method: 'GET', route: '/v1/items/:id', status: '200', value: 3 },
        { method: 'GET', route: 'unmatched', status: '404', value: 2 },
        { method: 'POST', route: '/v1/fail', status: '500', value: 1 },
      ]),
    );
    expect(requests).toHaveLength(3);
    const duration = (labels: Record<string, string>) =>
      sum(all, 'http_request_duration_seconds_count', labels);
    expect(duration({ route: '/v1/items/:id', status_class: '2xx' })).toBe(3);
    expect(duration({ route: 'unmatched', status_class: '4xx' })).toBe(2);
    expect(duration({ route: '/v1/fail', status_class: '5xx' })).toBe(1);
    expect(sum(all, 'http_request_duration_seconds_bucket', { le: '+Inf' })).toBe(6);
    expect(sum(all, 'http_requests_in_flight')).toBe(0);

    // Raw paths, ids and query strings never become label values.
    const values = all.flatMap((s) => Object.values(s.labels));
    for (const raw of [
      'item_7f3a',
      'item_91bc',
      'item_0042',
      'secret_abc123',
      'user_5521',
      't0k3n',
    ]) {
      expect(values.some((value) => value.includes(raw))).toBe(false);
    }
  });

  it('never leaks in-flight requests when clients leave, and records them as 499', async () => {
    const before = await settledScrape();
    const streamed = (all: Series[]) =>
      sum(all, 'http_requests_total', { route: '/v1/stream', status: '499' });
    const slow = (all: Series[]) =>
      sum(all, 'http_requests_total', { route: '/v1/slow', status: '499' });

    // A stream cut after its first chunk. (node:http without an agent: fetch's pool may open a
    // spare connection that would hold app.close() open until the headers timeout.)
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${apiUrl}/v1/stream`, { agent: false }, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.once('error', reject);
      request.end();
    });
    // A request abandoned before any response, whose handler answers later anyway.
    const abandoned = httpRequest(`${apiUrl}/v1/slow`, { agent: false });
    abandoned.on('error', () => undefined);
    abandoned.end();
    while (!releaseSlow) await delay(5);
    expect(sum(await scrape(), 'http_requests_in_flight')).toBe(1);
    abandoned.destroy();
    await delay(20);
    releaseSlow();

    const after = await settledScrape();
    expect(streamed(after) - streamed(before)).toBe(1);
    expect(slow(after) - slow(before)).toBe(1);
    expect(sum(after, 'http_requests_in_flight')).toBe(0);
  });

  it('exposes saturation gauges read at scrape time', async () => {
    const all = await scrape();
    expect(sum(all, 'generation_gate_queued')).toBe(3);
    expect(pick(all, 'process_resident_memory_bytes')).toHaveLength(1);
  });

  it('observes Redis commands of a real ioredis client', async () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await client.connect();
      await client.ping();
      await client.ping();
    } finally {
      client.disconnect();
    }
    const all = await scrape();
    expect(
      sum(all, 'redis_command_duration_seconds_count', { command: 'ping', outcome: 'ok' }),
    ).toBe(2);
  });

  it('answers only GET /metrics, in the Prometheus text format', async () => {
    const response = await fetch(`${metricsUrl}?name[]=x`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    await response.text();
    const base = metricsUrl.replace(/\/metrics$/, '');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'HEAD' })).status).toBe(200);
  });
});

describe('METRICS_ENABLED=false', () => {
  it('serves requests and records nothing', async () => {
    const openai = await startFakeOpenAI();
    const t = await startTestApp({
      METRICS_ENABLED: 'false',
      OPENAI_BASE_URL: openai.url,
      RESPONSE_CACHE_TTL_SECONDS: '0',
    });
    try {
      const api = apiClient(t.app.http);
      const token = AUTH.authorization.slice('Bearer '.length);
      expect((await api('GET', '/v1/models', { token })).status).toBe(200);
      expect((await api('GET', '/v1/models', { token: 'sk-wrong' })).status).toBe(401);
      const chat = await api('POST', '/v1/chat/completions', {
        token,
        body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 },
      });
      expect(chat.status).toBe(200);
      expect(openai.requests).toHaveLength(1);

      expect(t.app.metrics.enabled).toBe(false);
      // No HTTP, inference, saturation, Redis or process metric exists, so none can be scraped.
      expect(await t.app.metrics.registry.getMetricsAsJSON()).toEqual([]);
      expect((await t.app.metrics.registry.metrics()).trim()).toBe('');
    } finally {
      await t.close();
      await openai.close();
    }
  });
});
