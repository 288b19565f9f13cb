import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ CORS_ORIGINS: 'https://app.example.com' });
});
afterAll(async () => {
  await t.close();
});

const get = (url: string, headers: Record<string, string> = {}) =>
  t.app.http.inject({ method: 'GET', url, headers });

describe('operational endpoints', () => {
  it('/healthz and /readyz answer without credentials', async () => {
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: 'ok' } });
  });

  it('/readyz is 503 when the database is gone', async () => {
    const other = await startTestApp();
    await other.app.storage.close();
    const res = await other.app.http.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'unavailable', checks: { database: 'unavailable' } });
    await other.close();
  });

  it('serves the same document as JSON and YAML', async () => {
    const json = await get('/openapi.json');
    const yaml = await get('/openapi.yaml');
    expect(json.headers['content-type']).toMatch(/application\/json/);
    expect(yaml.headers['content-type']).toMatch(/application\/yaml/);
    expect(parse(yaml.body)).toEqual(json.json());
    expect(json.json().openapi).toMatch(/^3\.1/);
  });

  it('serves an interactive reference from the installed package, no CDN', async () => {
    const page = await get('/docs');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(source.startsWith('/')).toBe(true);
      expect((await get(source)).statusCode).toBe(200);
    }
    expect((await get('/docs/assets/package.json')).statusCode).toBe(404);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
  });
});

describe('every response', () => {
  it('carries the security headers, even errors', async () => {
    for (const res of [await get('/healthz'), await get('/v1/models'), await get('/nope')]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    }
  });

  it('echoes a safe X-Request-Id and replaces an unsafe one', async () => {
    const safe = await get('/healthz', { 'x-request-id': 'client-abc.123_X' });
    expect(safe.headers['x-request-id']).toBe('client-abc.123_X');
    for (const unsafe of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await get('/healthz', { 'x-request-id': unsafe });
      expect(res.headers['x-request-id']).toMatch(/^req_[a-f0-9]{24}$/);
    }
  });

  it('sends CORS headers only to a listed origin', async () => {
    const allowed = await get('/healthz', { origin: 'https://app.example.com' });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const denied = await get('/healthz', { origin: 'https://evil.example.net' });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await t.app.http.inject({
      method: 'OPTIONS',
      url: '/v1/chat/completions',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/Authorization/);
  });

  it('tags GET bodies with an ETag and answers 304 to If-None-Match', async () => {
    const first = await get('/v1/models', AUTH);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await get('/v1/models', { ...AUTH, 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const other = await get('/v1/models', { ...AUTH, 'if-none-match': '"something-else"' });
    expect(other.statusCode).toBe(200);
    const post = await t.app.http.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { ...AUTH, 'content-type': 'application/json', 'if-none-match': '*' },
      payload: { model: 'tiny-wordnet', prompt: 'Hi', max_tokens: 2 },
    });
    expect(post.statusCode).toBe(200);
    expect(post.headers.etag).toBeUndefined();
  });
});

describe('GET /v1/models', () => {
  it('lists the built-in model as owned by local, in the list shape', async () => {
    const body = (await get('/v1/models', AUTH)).json();
    expect(body.object).toBe('list');
    expect(body.data).toContainEqual(
      expect.objectContaining({ id: 'tiny-wordnet', object: 'model', owned_by: 'local' }),
    );
    expect(body.pagination).toEqual({ cursor: null, has_more: false, limit: 20 });
    const one = (await get('/v1/models/tiny-wordnet', AUTH)).json();
    expect(one).toEqual(body.data[0]);
  });

  it('pages with an opaque cursor', async () => {
    const body = (await get('/v1/models?limit=1', AUTH)).json();
    expect(body.data).toHaveLength(1);
    expect(body.pagination.limit).toBe(1);
  });
});
