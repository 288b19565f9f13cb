import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { createContractChecker } from '../../support/contract.js';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.js';
import { createKey, createTenant, type Tenant } from '../../support/tenant.js';

let db: TestDatabase;
let t: TestApp;
let api: Api;
let tenant: Tenant;
let sql: pg.Client;

const contract = createContractChecker();
const COMPLETION = { model: 'tiny-wordnet', prompt: 'Say this is a test.', max_tokens: 4 };

/** The stored records of one Idempotency-Key, whatever credential they belong to. */
async function records(key: string) {
  const { rows } = await sql.query<{ scope: string; response_status: number | null }>(
    'select scope, response_status, response_body from idempotency_keys where key = $1',
    [key],
  );
  return rows;
}

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp({
    DATABASE_URL: db.url,
    RATE_LIMIT_ADDRESS_RPM: '1000',
    CORS_ORIGINS: 'https://app.example.com',
  });
  api = apiClient(t.app.http);
  tenant = await createTenant(api, 'idempotent');
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
}, 60_000);

afterAll(async () => {
  await sql?.end();
  await t?.close();
  await db?.drop();
});

describe('Idempotency-Key keeps final outcomes only', () => {
  it('does not replay a 429: the retry is admitted or refused anew', async () => {
    const key = await createKey(api, tenant, { requests_per_minute: 100, tokens_per_minute: 100 });
    const headers = { 'idempotency-key': 'too-many-tokens-1' };
    const body = { ...COMPLETION, max_tokens: 500 };
    const rejections = () => t.logs.filter((line) => line.msg === 'rate limit rejected').length;
    const before = rejections();

    const first = await api('POST', '/v1/completions', { token: key, body, headers });
    const retry = await api('POST', '/v1/completions', { token: key, body, headers });

    expect(first.status).toBe(429);
    expect(retry.status).toBe(429);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(rejections() - before).toBe(2);
    expect(await records('too-many-tokens-1')).toEqual([]);
  });
});

describe('Idempotency-Key records belong to one credential', () => {
  it('does not let a narrower key of the same user replay a completion', async () => {
    const headers = { 'idempotency-key': 'wide-completion-1' };
    const wide = await api('POST', '/v1/completions', {
      token: tenant.accessToken,
      body: COMPLETION,
      headers,
    });
    expect(wide.status, wide.body).toBe(200);

    const narrow = await createKey(
      api,
      tenant,
      { requests_per_minute: 100, tokens_per_minute: 100_000 },
      ['models:read'],
    );
    const borrowed = await api('POST', '/v1/completions', {
      token: narrow,
      body: COMPLETION,
      headers,
    });
    expect(borrowed.status, borrowed.body).toBe(403);
    expect(borrowed.headers['idempotent-replayed']).toBeUndefined();

    const again = await api('POST', '/v1/completions', {
      token: tenant.accessToken,
      body: COMPLETION,
      headers,
    });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(wide.json().id);
  });

  it('lets another key of the same user act on the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'per-key-completion-1' };
    const limits = { requests_per_minute: 100, tokens_per_minute: 100_000 };
    const [one, two] = [await createKey(api, tenant, limits), await createKey(api, tenant, limits)];
    const first = await api('POST', '/v1/completions', { token: one, body: COMPLETION, headers });
    const second = await api('POST', '/v1/completions', { token: two, body: COMPLETION, headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.json().id).not.toBe(first.json().id);
    expect(await records('per-key-completion-1')).toHaveLength(2);
  });
});

describe('Idempotency-Key on API key creation', () => {
  it('creates one key and replays it as 200 without its secret, storing no secret', async () => {
    const headers = { 'idempotency-key': 'create-ci-key-1' };
    const body = { name: 'ci, exactly once', scopes: ['models:read'] };
    const racing = await Promise.all(
      Array.from({ length: 4 }, () =>
        api('POST', '/v1/api-keys', { token: tenant.accessToken, body, headers }),
      ),
    );
    const created = racing.filter((res) => res.status === 201);
    expect(created).toHaveLength(1);
    expect(racing.every((res) => [200, 201, 409].includes(res.status))).toBe(true);
    const original = created[0]?.json<{ id: string; secret: string }>();
    expect(original?.secret).toMatch(/^sk-/);

    const replay = await api('POST', '/v1/api-keys', {
      token: tenant.accessToken,
      body,
      headers: { ...headers, origin: 'https://app.example.com' },
    });
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    // A browser client can only be told it got a replay if the header is exposed to it.
    expect(String(replay.headers['access-control-expose-headers'])).toContain(
      'Idempotent-Replayed',
    );
    const replayed = replay.json();
    contract.response('POST', '/v1/api-keys', 200, replayed);
    expect(replayed).toMatchObject({ id: original?.id, object: 'api_key', name: body.name });
    expect(replayed).not.toHaveProperty('secret');
    expect(replay.body).not.toContain(original?.secret);

    const listed = await api('GET', '/v1/api-keys?limit=100', { token: tenant.accessToken });
    const named = listed
      .json<{ data: { name: string }[] }>()
      .data.filter((k) => k.name === body.name);
    expect(named).toHaveLength(1);

    const stored = await records('create-ci-key-1');
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(original?.secret);
    expect(JSON.stringify(stored)).not.toContain((original?.secret ?? '').slice(8));
  });
});
