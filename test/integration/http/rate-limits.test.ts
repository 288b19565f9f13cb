import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api, type ApiResponse } from '../../support/client.js';
import { createKey, createTenant, TENANT_PASSWORD, type Tenant } from '../../support/tenant.js';

let t: TestApp;
let api: Api;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_ADDRESS_RPM: '1000' });
  api = apiClient(t.app.http);
  tenant = await createTenant(api, 'limited');
});
afterAll(async () => {
  await t.close();
});

describe('request limits', () => {
  it('report X-RateLimit-* on every authenticated response', async () => {
    const res = await api('GET', '/v1/models', { token: tenant.accessToken });
    expect(res.headers['x-ratelimit-limit']).toBe('600');
    expect(Number(res.headers['x-ratelimit-remaining'])).toBeLessThan(600);
    const reset = Number(res.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60);
  });

  it('refuse a key past its own requests_per_minute with 429 and Retry-After', async () => {
    const key = await createKey(api, tenant, {
      requests_per_minute: 5,
      tokens_per_minute: 100_000,
    });
    const statuses: number[] = [];
    let refused: ApiResponse | undefined;
    for (let i = 0; i < 7; i += 1) {
      const res = await api('GET', '/v1/models', { token: key });
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(refused?.json().error).toMatchObject({ code: 'RATE_LIMITED', type: 'rate_limit_error' });
    // One request a minute per 1/5 of a minute: the next token is at most 12 s away.
    const retryAfter = Number(refused?.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12);
    expect(refused?.headers['x-ratelimit-remaining']).toBe('0');
    // Each refusal has its own log line naming the limit and whose bucket ran dry.
    const line = t.logs.find(
      (l) => l.request_id === refused?.headers['x-request-id'] && l.msg === 'rate limit rejected',
    );
    expect(line).toMatchObject({
      level: 'warn',
      code: 'RATE_LIMITED',
      limit: 'requests',
      refused_by: 'credential',
      retry_after_s: retryAfter,
    });
    // Another credential of the same user is not affected.
    expect((await api('GET', '/v1/models', { token: tenant.accessToken })).status).toBe(200);
  });

  it('reserve prompt plus max_tokens against tokens_per_minute at admission', async () => {
    const key = await createKey(api, tenant, { requests_per_minute: 100, tokens_per_minute: 200 });
    type Completion = { usage: { prompt_tokens: number; total_tokens: number } };
    const body = { model: 'tiny-wordnet', prompt: 'Hello there', max_tokens: 150, temperature: 0 };
    // What the model writes for this prompt at temperature 0 (asked with another credential): its
    // first character is a stop certain to end the same request at its first token with text.
    const greedy = await api('POST', '/v1/completions', {
      token: tenant.accessToken,
      body: { ...body, max_tokens: 8 },
    });
    const text = greedy.json<{ choices: { text: string }[] }>().choices[0]?.text ?? '';
    const early = text === '' ? body : { ...body, stop: text.slice(0, 1) };
    // Admitted against a reservation of prompt + 150; settled to the few tokens it used.
    const first = await api('POST', '/v1/completions', { token: key, body: early });
    expect(first.status).toBe(200);
    const used = first.json<Completion>().usage;
    const prompt = used.prompt_tokens;
    expect(used.total_tokens + prompt + 150).toBeLessThanOrEqual(200);
    // A second reservation of prompt + 150 fits only because the first was settled. Sampled from
    // here on, so that no answer can come from the response cache, which reserves nothing.
    const sampled = { ...body, temperature: 1 };
    const second = await api('POST', '/v1/completions', { token: key, body: sampled });
    expect(second.status).toBe(200);
    // What both used is spent until it is a minute old: one token over what is left is refused,
    // exactly what is left is admitted.
    const left = 200 - used.total_tokens - second.json<Completion>().usage.total_tokens;
    const third = await api('POST', '/v1/completions', {
      token: key,
      body: { ...sampled, max_tokens: left - prompt + 1 },
    });
    expect(third.status).toBe(429);
    expect(
      t.logs.find((l) => l.request_id === third.headers['x-request-id'] && l.code),
    ).toMatchObject({ msg: 'rate limit rejected', limit: 'tokens', refused_by: 'credential' });
    const fourth = await api('POST', '/v1/completions', {
      token: key,
      body: { ...sampled, max_tokens: left - prompt },
    });
    expect(fourth.status).toBe(200);
    const tooMuch = await api('POST', '/v1/completions', {
      token: key,
      body: { ...sampled, max_tokens: 500 },
    });
    expect(tooMuch.status).toBe(429);
    expect(tooMuch.json<{ error: { message: string } }>().error.message).toMatch(/more tokens/);
    expect(Number(tooMuch.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('concurrent requests cannot overshoot the token limit', async () => {
    const key = await createKey(api, tenant, { requests_per_minute: 100, tokens_per_minute: 1000 });
    const body = { model: 'tiny-wordnet', prompt: 'Hi', max_tokens: 300, stream: true };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => api('POST', '/v1/completions', { token: key, body })),
    );
    // Each reserves ~300 tokens up front: at most three fit in 1000 at once.
    const admitted = results.filter((r) => r.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(3);
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  });
});

describe('per-address limits', () => {
  it('limit sign-in attempts per client address', async () => {
    const small = await startTestApp({ RATE_LIMIT_ADDRESS_RPM: '3' });
    try {
      const smallApi = apiClient(small.app.http);
      const attempt = () =>
        smallApi('POST', '/v1/auth/token', {
          body: { email: 'nobody@nowhere.test', password: TENANT_PASSWORD },
          remoteAddress: '198.51.100.9',
        });
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await attempt()).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      expect(small.logs.filter((l) => l.msg === 'rate limit rejected')).toEqual([
        expect.objectContaining({ limit: 'address', refused_by: 'address' }),
      ]);
      // Requests with a refused credential are charged to the address too.
      const other = await smallApi('GET', '/v1/models', {
        token: 'sk-bogus',
        remoteAddress: '198.51.100.9',
      });
      expect(other.status).toBe(429);
    } finally {
      await small.close();
    }
  });
});
