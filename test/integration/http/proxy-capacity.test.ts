import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { startFakeOpenAI, type FakeUpstream } from '../../support/fake-upstreams/index.js';

const OPENAI_KEY = 'sk-upstream-openai-key-for-tests';

let openai: FakeUpstream;
let t: TestApp;
let base: URL;
beforeAll(async () => {
  openai = await startFakeOpenAI({ apiKey: OPENAI_KEY });
  // The first chunk comes at once, the rest never in this test's lifetime: the stream is open and
  // holds its slot until the client leaves.
  openai.setMode({ chunks: 1000, chunkDelayMs: 60_000 }, { model: 'gpt-4o' });
  t = await startTestApp({
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: OPENAI_KEY,
    MAX_CONCURRENT_GENERATIONS: '1',
    MAX_QUEUED_GENERATIONS: '0',
    MAX_CONCURRENT_UPSTREAM_STREAMS: '3',
    MAX_QUEUED_UPSTREAM_STREAMS: '0',
    GENERATION_QUEUE_TIMEOUT_MS: '60000',
    RESPONSE_CACHE_TTL_SECONDS: '0',
  });
  base = new URL(await t.app.http.listen({ host: '127.0.0.1', port: 0 }));
});
afterAll(async () => {
  await t?.close();
  await openai?.close();
});

function complete(model: string, signal?: AbortSignal, requestId?: string): Promise<Response> {
  return fetch(new URL('/v1/completions', base), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      'content-type': 'application/json',
      ...(requestId ? { 'x-request-id': requestId } : {}),
    },
    body: JSON.stringify({ model, prompt: 'Tell a tale', max_tokens: 4, stream: true }),
    ...(signal ? { signal } : {}),
  });
}

describe('proxy capacity', () => {
  it('admits upstream streams up to their own limit, apart from the local generation limit', async () => {
    const client = new AbortController();
    try {
      const held = await Promise.all([1, 2, 3].map(() => complete('gpt-4o', client.signal)));
      // More proxied streams than MAX_CONCURRENT_GENERATIONS are open at once.
      expect(held.map((res) => res.status)).toEqual([200, 200, 200]);
      await openai.waitForRequests(3);

      const local = await complete('tiny-wordnet');
      expect(local.status).toBe(200);
      expect((await local.text()).trim().endsWith('data: [DONE]')).toBe(true);

      const beyond = await complete('gpt-4o', undefined, 'shed-1');
      expect(beyond.status).toBe(503);
      expect(beyond.headers.get('retry-after')).toBe('1');
      expect(((await beyond.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED');
      expect(openai.requests).toHaveLength(3);

      // Shedding is the gate doing its job: a warning without a stack, not an error.
      const lines = t.logs.filter((line) => line.request_id === 'shed-1');
      expect(lines.find((line) => line.msg === 'request shed')).toMatchObject({
        level: 'warn',
        code: 'OVERLOADED',
      });
      expect(lines.filter((line) => line.level === 'error' || 'err' in line)).toEqual([]);
    } finally {
      client.abort();
    }
  });
});
