import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { createTenant } from '../../support/tenant.js';

let t: TestApp;
let api: Api;
beforeAll(async () => {
  t = await startTestApp();
  api = apiClient(t.app.http);
});
afterAll(async () => {
  await t.close();
});

const deterministic = {
  model: 'tiny-wordnet',
  prompt: 'The river and the rain',
  max_tokens: 20,
  temperature: 0,
};
const token = AUTH.authorization.slice('Bearer '.length);

describe('response cache', () => {
  it('answers an identical temperature-0 request from the cache, and says so', async () => {
    const first = await api('POST', '/v1/completions', { token, body: deterministic });
    const second = await api('POST', '/v1/completions', { token, body: deterministic });
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT');
    const a = first.json<{ id: string; choices: { text: string }[]; usage: unknown }>();
    const b = second.json<{ id: string; choices: { text: string }[]; usage: unknown }>();
    expect(b.choices[0]?.text).toBe(a.choices[0]?.text);
    expect(b.usage).toEqual(a.usage);
    expect(b.id).not.toBe(a.id);
  });

  it('replays a hit as a stream too', async () => {
    const stream = await api('POST', '/v1/completions', {
      token,
      body: { ...deterministic, stream: true },
    });
    expect(stream.headers['x-cache']).toBe('HIT');
    const events = parseSse(stream.body);
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('never caches sampled requests, and honours Cache-Control: no-cache', async () => {
    const sampled = { ...deterministic, temperature: 0.9 };
    expect(
      (await api('POST', '/v1/completions', { token, body: sampled })).headers['x-cache'],
    ).toBe('BYPASS');
    const optOut = await api('POST', '/v1/completions', {
      token,
      body: deterministic,
      headers: { 'cache-control': 'no-cache' },
    });
    expect(optOut.headers['x-cache']).toBe('BYPASS');
  });

  it('is never shared across organizations', async () => {
    const one = await createTenant(api, 'cache-one');
    const two = await createTenant(api, 'cache-two');
    const body = { ...deterministic, prompt: 'A prompt two tenants both send' };
    expect(
      (await api('POST', '/v1/completions', { token: one.accessToken, body })).headers['x-cache'],
    ).toBe('MISS');
    expect(
      (await api('POST', '/v1/completions', { token: two.accessToken, body })).headers['x-cache'],
    ).toBe('MISS');
    expect(
      (await api('POST', '/v1/completions', { token: two.accessToken, body })).headers['x-cache'],
    ).toBe('HIT');
  });
});

describe('Server-Timing', () => {
  function parse(header: unknown): Record<string, number> {
    return Object.fromEntries(
      String(header)
        .split(',')
        .map((part) => part.trim().split(';'))
        .map(([name, dur]) => [name, Number(String(dur).replace('dur=', ''))]),
    );
  }

  it('separates the gateway from the model on completions, streamed or not', async () => {
    for (const body of [
      { ...deterministic, temperature: 0.5 },
      { ...deterministic, temperature: 0.5, stream: true },
    ]) {
      const res = await api('POST', '/v1/completions', { token, body });
      const timing = parse(res.headers['server-timing']);
      expect(timing.gateway).toBeGreaterThanOrEqual(0);
      expect(timing.upstream).toBeGreaterThan(0);
    }
  });

  it('reports only the gateway elsewhere', async () => {
    const timing = parse((await api('GET', '/healthz')).headers['server-timing']);
    expect(Object.keys(timing)).toEqual(['gateway']);
  });
});
