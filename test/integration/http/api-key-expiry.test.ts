import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';
import { createTenant, type Tenant } from '../../support/tenant.js';

let t: TestApp;
let api: Api;
let tenant: Tenant;

const inSeconds = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

async function mint(token: string, body: Record<string, unknown>) {
  return api('POST', '/v1/api-keys', {
    token,
    body: { name: 'child', scopes: ['models:read', 'api_keys:write'], ...body },
  });
}

beforeAll(async () => {
  t = await startTestApp();
  api = apiClient(t.app.http);
  tenant = await createTenant(api, 'expiring');
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('a key minted by an expiring key', () => {
  let parentExpiry: number;
  let parent: string;

  beforeAll(async () => {
    parentExpiry = inSeconds(3600);
    const res = await mint(tenant.accessToken, { expires_at: parentExpiry });
    expect(res.status, res.body).toBe(201);
    parent = res.json<{ secret: string }>().secret;
  });

  it('is refused, naming expires_at, when it would outlive the parent', async () => {
    const res = await mint(parent, { expires_at: parentExpiry + 1 });
    expect(res.status).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'VALIDATION_ERROR', param: 'expires_at' });
    const { details } = res.json<{ error: { details: { issue: string }[] } }>().error;
    expect(details[0]?.issue).toContain(String(parentExpiry));
  });

  it('takes the parent’s expiry when it asks for none', async () => {
    const res = await mint(parent, {});
    expect(res.status, res.body).toBe(201);
    expect(res.json<{ expires_at: number | null }>().expires_at).toBe(parentExpiry);
    // Nor can the grandchild escape through a child that inherited the limit.
    const grandchild = await mint(res.json<{ secret: string }>().secret, {});
    expect(grandchild.json<{ expires_at: number | null }>().expires_at).toBe(parentExpiry);
  });

  it('keeps an expiry earlier than the parent’s, or equal to it', async () => {
    for (const expiresAt of [parentExpiry - 600, parentExpiry]) {
      const res = await mint(parent, { expires_at: expiresAt });
      expect(res.status, res.body).toBe(201);
      expect(res.json<{ expires_at: number | null }>().expires_at).toBe(expiresAt);
    }
  });
});

describe('a key minted with an access token', () => {
  it('is not bounded by the session, and may never expire', async () => {
    const res = await mint(tenant.accessToken, {});
    expect(res.status, res.body).toBe(201);
    expect(res.json<{ expires_at: number | null }>().expires_at).toBeNull();
  });
});
