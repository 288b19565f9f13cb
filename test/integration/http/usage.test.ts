import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';

let t: TestApp;
let api: Api;
const PASSWORD = 'usage test password';

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

type Bucket = {
  date: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
};

let alice: string;
let bob: string;
beforeAll(async () => {
  t = await startTestApp();
  api = apiClient(t.app.http);
  alice = await memberOf('alpha');
  bob = await memberOf('beta');
  for (let i = 0; i < 3; i += 1) {
    await api('POST', '/v1/completions', {
      token: alice,
      body: { model: 'tiny-wordnet', prompt: 'One two three', max_tokens: 4 },
    });
  }
  await api('POST', '/v1/completions', {
    token: bob,
    body: { model: 'tiny-wordnet', prompt: 'Four', max_tokens: 2 },
  });
  await t.app.flushUsage();
});
afterAll(async () => {
  await t.close();
});

describe('GET /v1/usage', () => {
  it("sums the caller's organization only, by day and model", async () => {
    const res = await api('GET', '/v1/usage', { token: alice });
    expect(res.status).toBe(200);
    const body = res.json<{ data: Bucket[]; pagination: { has_more: boolean } }>();
    expect(body.data).toHaveLength(1);
    const [bucket] = body.data;
    expect(bucket).toMatchObject({
      date: new Date().toISOString().slice(0, 10),
      model: 'tiny-wordnet',
      requests: 3,
    });
    expect(bucket?.total_tokens).toBe(
      (bucket?.prompt_tokens ?? 0) + (bucket?.completion_tokens ?? 0),
    );
    expect(bucket?.completion_tokens).toBeLessThanOrEqual(12);
    const bobs = (await api('GET', '/v1/usage', { token: bob })).json<{ data: Bucket[] }>();
    expect(bobs.data[0]?.requests).toBe(1);
  });

  it('gives the platform admin the whole platform', async () => {
    const all = (await api('GET', '/v1/usage?model=tiny-wordnet', { token: ADMIN_KEY })).json<{
      data: Bucket[];
    }>();
    expect(all.data[0]?.requests).toBe(4);
  });

  it('filters by range and model, and refuses bad ranges naming the field', async () => {
    const past = (
      await api('GET', '/v1/usage?start_date=2020-01-01&end_date=2020-01-31', { token: alice })
    ).json<{ data: Bucket[] }>();
    expect(past.data).toEqual([]);
    const other = (await api('GET', '/v1/usage?model=gpt-4o', { token: alice })).json<{
      data: Bucket[];
    }>();
    expect(other.data).toEqual([]);
    for (const [query, field] of [
      ['start_date=2024-02-10&end_date=2024-02-01', 'end_date'],
      ['start_date=2020-01-01&end_date=2024-01-01', 'start_date'],
      ['start_date=2024-02-30', 'start_date'],
      ['end_date=yesterday', 'end_date'],
    ]) {
      const res = await api('GET', `/v1/usage?${query}`, { token: alice });
      expect(res.status, query).toBe(422);
      expect(res.json().error).toMatchObject({ param: field });
    }
  });

  it('needs the usage:read scope', async () => {
    const key = (
      await api('POST', '/v1/api-keys', {
        token: alice,
        body: { name: 'models only', scopes: ['models:read'] },
      })
    ).json<{ secret: string }>();
    expect((await api('GET', '/v1/usage', { token: key.secret })).status).toBe(403);
  });
});
