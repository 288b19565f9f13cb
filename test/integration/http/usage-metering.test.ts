import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';

let t: TestApp;
let api: Api;
const PASSWORD = 'metering test password';

async function memberOf(name: string): Promise<string> {
  const org = await api('POST', '/v1/organizations', { token: ADMIN_KEY, body: { name } });
  const email = `m@${name}.test`;
  await api('POST', '/v1/users', {
    token: ADMIN_KEY,
    body: { email, password: PASSWORD, role: 'member', organization_id: org.json().id },
  });
  return (await api('POST', '/v1/auth/token', { body: { email, password: PASSWORD } })).json<{
    access_token: string;
  }>().access_token;
}

/** A completion sent with the request id the caller chose; resolves with the response's id. */
async function complete(token: string, requestId: string): Promise<string> {
  const res = await api('POST', '/v1/completions', {
    token,
    headers: { 'x-request-id': requestId },
    body: { model: 'tiny-wordnet', prompt: 'One two three', max_tokens: 3 },
  });
  expect(res.status).toBe(200);
  expect(res.headers['x-request-id']).toBe(requestId);
  return res.json<{ id: string }>().id;
}

async function requestsOf(token: string): Promise<number> {
  await t.app.flushUsage();
  const res = await api('GET', '/v1/usage', { token });
  expect(res.status).toBe(200);
  const { data } = res.json<{ data: { requests: number }[] }>();
  return data.reduce((sum, bucket) => sum + bucket.requests, 0);
}

let alice: string;
let mallory: string;
beforeAll(async () => {
  t = await startTestApp();
  api = apiClient(t.app.http);
  alice = await memberOf('metered-alice');
  mallory = await memberOf('metered-mallory');
});
afterAll(async () => {
  await t.close();
});

describe('usage metering whatever X-Request-Id says', () => {
  it('counts each of many completions sent with one request id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await complete(mallory, 'reused-request-id'));

    expect(new Set(ids).size).toBe(5);
    expect(await requestsOf(mallory)).toBe(5);
    for (const id of ids) {
      expect(await t.app.storage.usage.findByCompletionId(id)).toMatchObject({
        requestId: 'reused-request-id',
        outcome: 'completed',
      });
    }
  });

  it("keeps a tenant's usage when another tenant sent its request id first", async () => {
    await complete(mallory, 'alice-request-id');
    await t.app.flushUsage();
    const id = await complete(alice, 'alice-request-id');

    expect(await requestsOf(alice)).toBe(1);
    expect(await t.app.storage.usage.findByCompletionId(id)).toMatchObject({
      requestId: 'alice-request-id',
    });
  });
});
