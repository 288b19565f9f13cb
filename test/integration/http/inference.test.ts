import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, parseSse, startTestApp, type TestApp } from '../../support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return t.app.http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(payload),
  });
}

const prompt = 'The weather today is calm and the rivers are quiet. The weather';

/**
 * A seed whose sample (temperature 1) writes at least `tokens` tokens for `prompt`, found by
 * trying a few. The same seed and parameters always write the same text, so tests can be built on
 * whatever the model happens to write, rather than on what a particular model writes (which may
 * well be an immediate end of text at temperature 0).
 */
async function seedThatWrites(tokens: number): Promise<number> {
  for (let seed = 1; seed <= 40; seed += 1) {
    const body = (
      await post('/v1/completions', {
        model: 'tiny-wordnet',
        prompt,
        max_tokens: tokens,
        temperature: 1,
        seed,
      })
    ).json();
    if (body.usage.completion_tokens === tokens && body.choices[0].text.trim().length >= 4) {
      return seed;
    }
  }
  throw new Error(`no seed from 1 to 40 writes ${tokens} tokens`);
}

describe('POST /v1/completions', () => {
  it('answers in the OpenAI shape with real token usage', async () => {
    const seed = await seedThatWrites(8);
    const res = await post('/v1/completions', {
      model: 'tiny-wordnet',
      prompt,
      max_tokens: 16,
      temperature: 1,
      seed,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ object: 'text_completion', model: 'tiny-wordnet' });
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0]).toMatchObject({ index: 0, logprobs: null });
    expect(typeof body.choices[0].text).toBe('string');
    expect(body.choices[0].text.length).toBeGreaterThan(0);
    expect(body.usage.prompt_tokens).toBeGreaterThan(5);
    // The seed writes 8 tokens before any end of text; 16 may end earlier, with "stop".
    expect(body.usage.completion_tokens).toBeGreaterThanOrEqual(8);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(16);
    expect(body.choices[0].finish_reason).toBe(
      body.usage.completion_tokens === 16 ? 'length' : 'stop',
    );
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('is deterministic at temperature 0', async () => {
    const payload = { model: 'tiny-wordnet', prompt, max_tokens: 40, temperature: 0 };
    // Past the response cache, so the model itself is what repeats.
    const fresh = { 'cache-control': 'no-cache' };
    const a = (await post('/v1/completions', payload, fresh)).json();
    const b = (await post('/v1/completions', payload, fresh)).json();
    expect(a.choices[0].text).toBe(b.choices[0].text);
  });

  it('respects max_tokens with finish_reason length', async () => {
    const res = (
      await post('/v1/completions', {
        model: 'tiny-wordnet',
        prompt,
        max_tokens: 7,
        temperature: 0,
      })
    ).json();
    expect(res.usage.completion_tokens).toBeLessThanOrEqual(7);
    if (res.usage.completion_tokens === 7) expect(res.choices[0].finish_reason).toBe('length');
  });

  it('respects stop sequences', async () => {
    const seed = await seedThatWrites(12);
    const base = { model: 'tiny-wordnet', prompt, max_tokens: 12, temperature: 1, seed };
    const full: string = (await post('/v1/completions', base)).json().choices[0].text;
    // Two characters from the middle of what this seed writes: certain to occur.
    const middle = Math.floor(full.length / 2);
    const stop = full.slice(middle, middle + 2);
    expect(stop.length).toBe(2);
    const cut = (await post('/v1/completions', { ...base, stop })).json();
    expect(cut.choices[0].text).toBe(full.slice(0, full.indexOf(stop)));
    expect(cut.choices[0].finish_reason).toBe('stop');
    expect(cut.choices[0].text).not.toContain(stop);
  });

  it('records usage once per request', async () => {
    const res = await post(
      '/v1/completions',
      { model: 'tiny-wordnet', prompt, max_tokens: 5 },
      { 'x-request-id': 'usage-check-1' },
    );
    await t.app.flushUsage();
    const record = await t.app.storage.usage.findByRequestId('usage-check-1');
    expect(record).toMatchObject({
      model: 'tiny-wordnet',
      endpoint: 'completions',
      outcome: 'completed',
      stream: false,
      principalId: expect.stringMatching(/^key_/),
      promptTokens: res.json().usage.prompt_tokens,
      completionTokens: res.json().usage.completion_tokens,
    });
  });
});

describe('POST /v1/chat/completions', () => {
  const messages = [
    { role: 'system', content: 'You describe the weather.' },
    { role: 'user', content: 'Tell me about the weather and the rivers.' },
  ];

  it('answers in the OpenAI chat shape', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'tiny-wordnet',
      messages,
      max_tokens: 12,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.role).toBe('assistant');
    expect(typeof body.choices[0].message.content).toBe('string');
    expect(['stop', 'length']).toContain(body.choices[0].finish_reason);
  });

  it('prefers max_completion_tokens over max_tokens', async () => {
    const body = (
      await post('/v1/chat/completions', {
        model: 'tiny-wordnet',
        messages,
        max_tokens: 50,
        max_completion_tokens: 3,
        temperature: 0,
      })
    ).json();
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('streams SSE chunks ending in [DONE], with usage when asked', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'tiny-wordnet',
      messages,
      max_tokens: 20,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(res.body);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    const finish = chunks.at(-2);
    expect(['stop', 'length']).toContain(finish.choices[0].finish_reason);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const whole = (
      await post('/v1/chat/completions', {
        model: 'tiny-wordnet',
        messages,
        max_tokens: 20,
        temperature: 0,
      })
    ).json();
    expect(text).toBe(whole.choices[0].message.content);
    expect(usageChunk.usage).toEqual(whole.usage);
  });

  it('streams completions without a usage chunk unless asked', async () => {
    const res = await post('/v1/completions', {
      model: 'tiny-wordnet',
      prompt,
      max_tokens: 10,
      stream: true,
    });
    const events = parseSse(res.body);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks.every((c) => c.object === 'text_completion' && c.choices.length === 1)).toBe(
      true,
    );
    expect(chunks.some((c) => 'usage' in c && c.usage)).toBe(false);
  });
});
