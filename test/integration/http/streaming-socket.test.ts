import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../../src/providers/shared/token-count.js';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient } from '../../support/client.js';
import { startFakeOpenAI, type FakeUpstream } from '../../support/fake-upstreams/index.js';
import { createKey, createTenant } from '../../support/tenant.js';

const UPSTREAM_KEY = 'sk-upstream-key-for-socket-tests';

let t: TestApp;
let base: URL;
// The bundled local model writes a short entry, and at most its 128-token context, in well under
// a second: too soon over to disconnect from. A slow upstream stream stays open for as long as a
// test needs it (the local provider's own abort handling is in providers/local-llama.test.ts).
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
  // 1,000 chunks 20 ms apart: a stream of 20 s unless the client leaves.
  upstream.setMode({ chunkDelayMs: 20, chunks: 1000 });
});

const longRequest = {
  model: 'gpt-4o',
  prompt: 'Once upon a time the weather was calm and the rivers ran long',
  max_tokens: 4096,
  temperature: 1,
  stream: true,
};

/** Opens a streamed completion over a real socket and resolves once the first chunk arrived. */
function openStream(
  requestId: string,
  token = ADMIN_KEY,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL('/v1/completions', base), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-request-id': requestId,
      },
    });
    req.on('response', (res) => res.once('data', () => resolve({ req, res })));
    req.on('error', reject);
    req.end(JSON.stringify(longRequest));
  });
}

/** Reads SSE chunks until `count` of them carried text; resolves with how many did. */
function readTextChunks(res: http.IncomingMessage, count: number): Promise<number> {
  return new Promise((resolve) => {
    let buffered = '';
    const onData = (data: Buffer) => {
      buffered += data.toString('utf8');
      const texts = buffered.split('\n\n').filter((event) => /"text":"[^"]/.test(event)).length;
      if (texts < count) return;
      res.off('data', onData);
      res.pause();
      resolve(texts);
    };
    res.on('data', onData);
  });
}

async function waitForUsage(requestId: string) {
  for (let i = 0; i < 200; i += 1) {
    await t.app.flushUsage();
    const record = await t.app.storage.usage.findByRequestId(requestId);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no usage record for ${requestId}`);
}

describe('streaming over a real socket', () => {
  it('a client that disconnects mid-stream stops the generation', async () => {
    const { req, res } = await openStream('disconnect-1');
    res.destroy();
    req.destroy();
    const record = await waitForUsage('disconnect-1');
    expect(record.outcome).toBe('cancelled');
    expect(record.stream).toBe(true);
    // The generation itself stopped: the upstream request was cancelled long before its end.
    const generation = upstream.requests[0];
    await generation?.closed;
    expect(generation?.abortedByClient).toBe(true);
    expect(generation?.chunksWritten).toBeLessThan(generation?.chunksPlanned ?? 0);
  });

  it('meters a stream the client left by what was streamed, and frees the rest', async () => {
    const tenant = await createTenant(apiClient(t.app.http), 'leaves-early');
    // Room for one reservation of prompt + 4096 at a time, not two.
    const key = await createKey(apiClient(t.app.http), tenant, {
      requests_per_minute: 100,
      tokens_per_minute: 6000,
    });
    const { req, res } = await openStream('leaves-early-1', key);
    const seen = await readTextChunks(res, 5);
    res.destroy();
    req.destroy();

    const record = await waitForUsage('leaves-early-1');
    expect(record.outcome).toBe('cancelled');
    expect(record.promptTokens).toBe(countTextTokens(longRequest.prompt));
    // Each streamed word is a token or two; the client saw some of them, the server sent more.
    const generation = upstream.requests[0];
    await generation?.closed;
    expect(record.completionTokens).toBeGreaterThanOrEqual(seen);
    expect(record.completionTokens).toBeLessThanOrEqual(2 * (generation?.chunksWritten ?? 0));

    // The reservation was settled to that, so another of prompt + 4096 fits in the minute.
    upstream.setMode({});
    const next = await apiClient(t.app.http)('POST', '/v1/completions', {
      token: key,
      body: { ...longRequest, stream: false },
    });
    expect(next.status, next.body).toBe(200);
  });

  it('/healthz answers while a long generation is streaming', async () => {
    const { req, res } = await openStream('long-1');
    let streamEnded = false;
    res.on('end', () => {
      streamEnded = true;
    });
    res.resume();
    const health = await fetch(new URL('/healthz', base));
    expect(health.status).toBe(200);
    // The probe was answered before the generation finished: it did not wait behind it.
    expect(streamEnded).toBe(false);
    res.destroy();
    req.destroy();
  });
});
