import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, startTestApp, type TestApp } from '../../support/app.js';
import { startFakeOpenAI, type FakeUpstream } from '../../support/fake-upstreams/index.js';
import { bundledContextSize } from '../../support/local-model.js';

let t: TestApp;
/** tiny-wordnet's context: prompt and completion together. */
let localContext: number;
// An upstream model, whose context is not ours to limit, takes the longest prompt.
let openai: FakeUpstream;
beforeAll(async () => {
  localContext = await bundledContextSize();
  openai = await startFakeOpenAI({ apiKey: 'sk-upstream-key-for-bad-input' });
  t = await startTestApp({
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: 'sk-upstream-key-for-bad-input',
  });
});
afterAll(async () => {
  await t?.close();
  await openai?.close();
});

const valid = { model: 'tiny-wordnet', prompt: 'Hello there', max_tokens: 4 };
const validChat = {
  model: 'tiny-wordnet',
  messages: [{ role: 'user', content: 'Hi' }],
  max_tokens: 4,
};

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return t.app.http.inject({
    method: 'POST',
    url,
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

function expectCleanError(
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
  status: number,
  code: string,
) {
  expect(res.statusCode).toBe(status);
  const body = JSON.parse(res.body) as { error: Record<string, unknown> };
  expect(body.error.code).toBe(code);
  expect(body.error.request_id).toBe(res.headers['x-request-id']);
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  expect(Array.isArray(body.error.details)).toBe(true);
  // No stack trace, source path or framework internals leak into an error.
  expect(res.body).not.toMatch(/\bat .+:\d+:\d+|\/work\/|node_modules|src\/|\.ts\b|FST_/);
  return body.error as {
    code: string;
    param: string | null;
    details: { field: string; issue: string }[];
  };
}

async function usageRows(): Promise<number> {
  await t.app.flushUsage();
  return (await t.app.storage.usage.list({ limit: 100 })).length;
}

describe('contract Inputs: each bound gets a 422 naming the field', () => {
  const cases: [string, string, unknown, string][] = [
    ['missing prompt', '/v1/completions', { model: 'tiny-wordnet' }, 'prompt'],
    ['empty prompt', '/v1/completions', { ...valid, prompt: '' }, 'prompt'],
    [
      'prompt over 32,000 chars',
      '/v1/completions',
      { ...valid, prompt: 'a'.repeat(32_001) },
      'prompt',
    ],
    ['prompt with NUL byte', '/v1/completions', { ...valid, prompt: 'a\u0000b' }, 'prompt'],
    ['prompt not a string', '/v1/completions', { ...valid, prompt: 42 }, 'prompt'],
    ['temperature below 0', '/v1/completions', { ...valid, temperature: -0.1 }, 'temperature'],
    ['temperature above 2', '/v1/completions', { ...valid, temperature: 2.01 }, 'temperature'],
    ['temperature as string', '/v1/completions', { ...valid, temperature: '0.5' }, 'temperature'],
    ['max_tokens 0', '/v1/completions', { ...valid, max_tokens: 0 }, 'max_tokens'],
    ['max_tokens over 4096', '/v1/completions', { ...valid, max_tokens: 4097 }, 'max_tokens'],
    ['max_tokens fractional', '/v1/completions', { ...valid, max_tokens: 1.5 }, 'max_tokens'],
    ['top_p above 1', '/v1/completions', { ...valid, top_p: 1.5 }, 'top_p'],
    ['unknown field', '/v1/completions', { ...valid, frobnicate: true }, 'frobnicate'],
    ['missing model', '/v1/completions', { prompt: 'x' }, 'model'],
    ['unknown model', '/v1/completions', { ...valid, model: 'no-such-model' }, 'model'],
    [
      'too many stop sequences',
      '/v1/completions',
      { ...valid, stop: ['a', 'b', 'c', 'd', 'e'] },
      'stop',
    ],
    ['body is an array', '/v1/completions', [valid], 'body'],
    ['empty messages', '/v1/chat/completions', { ...validChat, messages: [] }, 'messages'],
    [
      'message without role',
      '/v1/chat/completions',
      { ...validChat, messages: [{ content: 'x' }] },
      'messages[0].role',
    ],
    [
      'message with bad role',
      '/v1/chat/completions',
      { ...validChat, messages: [{ role: 'wizard', content: 'x' }] },
      'messages[0].role',
    ],
    [
      'message with empty content',
      '/v1/chat/completions',
      { ...validChat, messages: [{ role: 'user', content: '' }] },
      'messages[0].content',
    ],
    [
      'message content over 32,000',
      '/v1/chat/completions',
      { ...validChat, messages: [{ role: 'user', content: 'b'.repeat(32_001) }] },
      'messages[0].content',
    ],
    [
      'message content with NUL',
      '/v1/chat/completions',
      { ...validChat, messages: [{ role: 'user', content: '\u0000' }] },
      'messages[0].content',
    ],
    [
      'unknown field in a message',
      '/v1/chat/completions',
      { ...validChat, messages: [{ role: 'user', content: 'x', mood: 'happy' }] },
      'messages[0].mood',
    ],
    [
      'chat temperature above 2',
      '/v1/chat/completions',
      { ...validChat, temperature: 3 },
      'temperature',
    ],
    [
      'chat max_tokens over 4096',
      '/v1/chat/completions',
      { ...validChat, max_tokens: 5000 },
      'max_tokens',
    ],
    [
      'unknown stream_options field',
      '/v1/chat/completions',
      { ...validChat, stream: true, stream_options: { include_usage: true, extra: 1 } },
      'stream_options.extra',
    ],
  ];

  it.each(cases)('%s', async (_name, url, payload, field) => {
    const before = await usageRows();
    const res = await post(url, payload);
    const error = expectCleanError(res, 422, 'VALIDATION_ERROR');
    expect(error.param).toBe(field);
    expect(error.details[0]?.field).toBe(field);
    expect(error.details[0]?.issue.length).toBeGreaterThan(0);
    // A request that fails validation writes nothing.
    expect(await usageRows()).toBe(before);
  });

  it('describes a range the way the contract shows it', async () => {
    const error = expectCleanError(
      await post('/v1/completions', { ...valid, temperature: 9 }),
      422,
      'VALIDATION_ERROR',
    );
    expect(error.details).toEqual([{ field: 'temperature', issue: 'Must be between 0.0 and 2.0' }]);
  });

  it('accepts the bounds themselves', async () => {
    const least = await post('/v1/completions', { ...valid, temperature: 0, max_tokens: 1 });
    expect(least.statusCode).toBe(200);
    expect(least.json().usage.completion_tokens).toBeLessThanOrEqual(1);

    // max_tokens 4,096 is accepted for the local model too: prompt and completion share its
    // context, so the reply ends at the context's end with "length" unless the model ends first.
    const most = await post('/v1/completions', { ...valid, temperature: 2, max_tokens: 4096 });
    expect(most.statusCode).toBe(200);
    const { usage, choices } = most.json();
    const room = localContext - usage.prompt_tokens;
    expect(usage.completion_tokens).toBeLessThanOrEqual(room);
    expect(choices[0].finish_reason).toBe(usage.completion_tokens === room ? 'length' : 'stop');

    const longest = { temperature: 2, max_tokens: 4096, model: 'gpt-4o' };
    const prompt = 'p'.repeat(32_000);
    expect((await post('/v1/completions', { ...longest, prompt })).statusCode).toBe(200);
    const messages = [{ role: 'user', content: prompt }];
    expect((await post('/v1/chat/completions', { ...longest, messages })).statusCode).toBe(200);
    expect(openai.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('refuses a prompt within the bounds but longer than the local model reads', async () => {
    const long = 'p'.repeat(32_000);
    for (const [url, payload, field] of [
      ['/v1/completions', { ...valid, prompt: long }, 'prompt'],
      [
        '/v1/chat/completions',
        { ...validChat, messages: [{ role: 'user', content: long }] },
        'messages',
      ],
      // Found before the stream starts, so a plain error rather than an error event.
      ['/v1/completions', { ...valid, prompt: long, stream: true }, 'prompt'],
    ] as const) {
      const res = await post(url, payload);
      const error = expectCleanError(res, 422, 'VALIDATION_ERROR');
      expect(error.param).toBe(field);
      expect(error.details[0]?.issue).toMatch(`reads at most ${localContext - 1}`);
      // Found by the model once admitted, yet a refusal like any schema error: nothing metered.
      await t.app.flushUsage();
      const record = await t.app.storage.usage.findByRequestId(String(res.headers['x-request-id']));
      expect(record).toBeNull();
    }
  });

  it('rejects a forged or malformed list cursor', async () => {
    for (const cursor of [
      '%%%',
      'bm90LWpzb24',
      Buffer.from(JSON.stringify({ v: 1, after: 'ghost' })).toString('base64url'),
    ]) {
      const res = await t.app.http.inject({
        method: 'GET',
        url: `/v1/models?cursor=${cursor}`,
        headers: AUTH,
      });
      expect(expectCleanError(res, 422, 'VALIDATION_ERROR').param).toBe('cursor');
    }
  });

  it('rejects list limits out of range and unknown query parameters', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=abc', 'limit'],
      ['colour=red', 'colour'],
    ]) {
      const res = await t.app.http.inject({
        method: 'GET',
        url: `/v1/models?${query}`,
        headers: AUTH,
      });
      expect(expectCleanError(res, 422, 'VALIDATION_ERROR').param).toBe(field);
    }
  });
});

describe('error codes of the serving core', () => {
  it('400 INVALID_JSON for a body that is not JSON', async () => {
    expectCleanError(
      await post('/v1/completions', '{"model": "tiny-wordnet", '),
      400,
      'INVALID_JSON',
    );
  });

  it('400 INVALID_JSON for prototype poisoning', async () => {
    expectCleanError(
      await post('/v1/completions', '{"__proto__": {"admin": true}, "model": "x"}'),
      400,
      'INVALID_JSON',
    );
  });

  it('401 UNAUTHORIZED without, or with a wrong, credential', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer sk-wrong' },
      { authorization: 'Basic abc' },
    ]) {
      const res = await t.app.http.inject({ method: 'GET', url: '/v1/models', headers });
      expectCleanError(res, 401, 'UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('authenticates before validating, so anonymous callers learn nothing about input', async () => {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { 'content-type': 'application/json' },
      payload: '{"temperature": 9}',
    });
    expectCleanError(res, 401, 'UNAUTHORIZED');
  });

  it('404 NOT_FOUND for an unknown route and an unknown model id', async () => {
    expectCleanError(
      await t.app.http.inject({ method: 'GET', url: '/v1/nothing-here', headers: AUTH }),
      404,
      'NOT_FOUND',
    );
    expectCleanError(
      await t.app.http.inject({ method: 'GET', url: '/nothing', headers: AUTH }),
      404,
      'NOT_FOUND',
    );
    expectCleanError(
      await t.app.http.inject({ method: 'GET', url: '/v1/models/ghost', headers: AUTH }),
      404,
      'NOT_FOUND',
    );
  });

  it('405 METHOD_NOT_ALLOWED with Allow for a known path', async () => {
    const res = await t.app.http.inject({
      method: 'DELETE',
      url: '/v1/completions',
      headers: AUTH,
    });
    expectCleanError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('POST');
    const get = await t.app.http.inject({
      method: 'PUT',
      url: '/v1/models/tiny-wordnet',
      headers: AUTH,
    });
    expectCleanError(get, 405, 'METHOD_NOT_ALLOWED');
    expect(get.headers.allow).toContain('GET');
  });

  it('413 PAYLOAD_TOO_LARGE over 1 MiB', async () => {
    const big = JSON.stringify({ ...valid, prompt: 'x'.repeat(1024 * 1024) });
    expectCleanError(await post('/v1/completions', big), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('415 UNSUPPORTED_MEDIA_TYPE for anything but JSON', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await post('/v1/completions', 'model=tiny-wordnet', { 'content-type': type });
      expectCleanError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('500 INTERNAL_ERROR hides the cause and logs it', async () => {
    const fresh = await startTestApp();
    try {
      // An unexpected fault deep in a handler, with the kind of detail that must not leak.
      fresh.app.http.get('/v1/explode', async () => {
        throw new Error('connection to 10.0.0.7 failed in /work/main/src/storage/pool.ts:12:3');
      });
      const res = await fresh.app.http.inject({ method: 'GET', url: '/v1/explode', headers: AUTH });
      const error = expectCleanError(res, 500, 'INTERNAL_ERROR');
      expect(res.body).not.toContain('10.0.0.7');
      expect(error.param).toBeNull();
      const logged = fresh.logs.find((line) => line.msg === 'request failed');
      expect(JSON.stringify(logged)).toContain('10.0.0.7');
    } finally {
      await fresh.close();
    }
  });
});
