import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, AUTH, startTestApp, type TestApp } from '../../support/app.js';
import { startFakeOpenAI, type FakeUpstream } from '../../support/fake-upstreams/index.js';

const UPSTREAM_KEY = 'sk-upstream-key-for-framework-error-tests';

let t: TestApp;
let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
  t = await startTestApp({ OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: UPSTREAM_KEY });
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

type Headers = Record<string, string | string[] | number | undefined>;

/** The contract's error body and the headers every response carries. */
function expectContractError(status: number, headers: Headers, body: string, code: string) {
  const requestId = headers['x-request-id'];
  expect(requestId).toEqual(expect.any(String));
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['content-security-policy']).toContain("default-src 'self'");
  expect(String(headers['content-type'])).toContain('application/json');
  const parsed = JSON.parse(body) as { error: Record<string, unknown> };
  expect(parsed.error).toMatchObject({ code, request_id: requestId });
  expect(Object.keys(parsed.error).sort()).toEqual(
    ['code', 'details', 'message', 'param', 'request_id', 'type'].sort(),
  );
  expect(status).toBeGreaterThanOrEqual(400);
}

describe("Fastify's own refusals", () => {
  it('answers a path that is not valid percent-encoding in the error shape, with every header', async () => {
    for (const [url, headers, status, code] of [
      ['/v1/users/%E0%A4%A', AUTH, 422, 'VALIDATION_ERROR'],
      ['/v1/users/%E0%A4%A', {}, 401, 'UNAUTHORIZED'],
      ['/v1/models/50%', AUTH, 404, 'NOT_FOUND'],
      ['/%E0%A4%A?x=1', {}, 404, 'NOT_FOUND'],
    ] as const) {
      const res = await t.app.http.inject({ method: 'GET', url, headers });
      expect(res.statusCode, url).toBe(status);
      expectContractError(res.statusCode, res.headers, res.body, code);
    }
  });

  it('judges an over-long path parameter by its schema, after authentication', async () => {
    const userId = `user_${'a'.repeat(200)}`;
    const long = await t.app.http.inject({
      method: 'GET',
      url: `/v1/users/${userId}`,
      headers: AUTH,
    });
    expect(long.statusCode).toBe(422);
    expectContractError(long.statusCode, long.headers, long.body, 'VALIDATION_ERROR');

    const anonymous = await t.app.http.inject({ method: 'GET', url: `/v1/users/${userId}` });
    expect(anonymous.statusCode).toBe(401);

    // Model ids may be 256 characters long; such a one is looked up, not refused as too long.
    const model = await t.app.http.inject({
      method: 'GET',
      url: `/v1/models/${'m'.repeat(150)}`,
      headers: AUTH,
    });
    expect(model.statusCode).toBe(404);
    expectContractError(model.statusCode, model.headers, model.body, 'NOT_FOUND');
  });

  it('refuses a request that arrives while draining in the error shape, with every header', async () => {
    // A short stream keeps the first request, and with it the connection, open while the server
    // begins to close; the second request arrives on that connection once closing has begun.
    upstream.setMode({ chunkDelayMs: 50, chunks: 20 });
    const base = new URL(await t.app.http.listen({ host: '127.0.0.1', port: 0 }));
    const socket = net.connect(Number(base.port), base.hostname);
    let received = '';
    const firstChunk = new Promise<void>((resolve) =>
      socket.on('data', (data: Buffer) => {
        received += data.toString('utf8');
        if (received.includes('data: ')) resolve();
      }),
    );
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const body = JSON.stringify({ model: 'gpt-4o', prompt: 'Hi', max_tokens: 20, stream: true });
    socket.write(
      [
        'POST /v1/completions HTTP/1.1',
        `Host: ${base.host}`,
        `Authorization: Bearer ${ADMIN_KEY}`,
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
    await firstChunk;
    const closed = t.app.http.close();
    while (t.app.http.server.listening) await new Promise((resolve) => setImmediate(resolve));
    socket.write(
      ['GET /v1/models HTTP/1.1', `Host: ${base.host}`, 'X-Request-Id: drain-1', '', ''].join(
        '\r\n',
      ),
    );
    await ended;
    await closed;

    const second = received.slice(received.lastIndexOf('HTTP/1.1 '));
    const [head = '', payload = ''] = second.split('\r\n\r\n');
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers: Headers = {};
    for (const line of lines) {
      const at = line.indexOf(':');
      headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
    }
    expect(statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    expect(headers['x-request-id']).toBe('drain-1');
    expect(headers['retry-after']).toBe('1');
    expectContractError(503, headers, payload, 'OVERLOADED');
  });
});
