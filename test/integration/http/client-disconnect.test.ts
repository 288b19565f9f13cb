import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { startFakeOpenAI, type FakeUpstream } from '../../support/fake-upstreams/index.js';

const UPSTREAM_KEY = 'sk-upstream-key-for-disconnect-tests';

let t: TestApp;
let base: URL;
let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
  t = await startTestApp({ OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_KEY });
  base = new URL(await t.app.http.listen({ host: '127.0.0.1', port: 0 }));
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});
beforeEach(() => {
  upstream.reset();
  // A reply that outlasts every test here unless the client leaves.
  upstream.setMode({ chunkDelayMs: 50, chunks: 1000 });
});

/** Sends a completion over a real socket; resolves once the upstream is generating for it. */
async function leaveDuring(requestId: string, stream: boolean): Promise<void> {
  const req = http.request(new URL('/v1/completions', base), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
  });
  req.on('error', () => undefined);
  req.end(JSON.stringify({ model: 'gpt-4o', prompt: 'A long tale', max_tokens: 2000, stream }));
  await upstream.waitForRequests(1);
  req.destroy();
}

async function endLineOf(requestId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i += 1) {
    await t.app.flushUsage();
    const end = t.logs.find((line) => line.request_id === requestId && line.msg === 'request end');
    const usage = await t.app.storage.usage.findByRequestId(requestId);
    if (end && usage) return end;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no request end line and usage record for ${requestId}`);
}

async function requestsWithStatus(status: string): Promise<number> {
  const metric = await t.app.metrics.registry.getSingleMetric('http_requests_total')?.get();
  return (metric?.values ?? [])
    .filter((v) => v.labels.route === '/v1/completions' && String(v.labels.status) === status)
    .reduce((sum, v) => sum + v.value, 0);
}

describe('a client that leaves', () => {
  it.each([
    ['mid-stream', true],
    ['while a JSON answer is generated', false],
  ])(
    '%s is an ordinary outcome: an info line, a 499 end line and a 499 in metrics',
    async (_, stream) => {
      const id = `leaves-${String(stream)}`;
      const before = {
        left: await requestsWithStatus('499'),
        failed: await requestsWithStatus('500'),
      };
      await leaveDuring(id, stream);

      const end = await endLineOf(id);
      expect(end).toMatchObject({ level: 'info', status_code: 499, route: '/v1/completions' });
      const lines = t.logs.filter((line) => line.request_id === id);
      expect(lines.filter((line) => line.level === 'error')).toEqual([]);
      expect(lines.some((line) => 'err' in line)).toBe(false);
      expect(lines.filter((line) => line.msg === 'request end')).toHaveLength(1);
      expect(await requestsWithStatus('499')).toBe(before.left + 1);
      expect(await requestsWithStatus('500')).toBe(before.failed);
    },
  );
});
