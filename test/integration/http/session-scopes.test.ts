import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';

const PASSWORD = 'session scopes password';
let t: TestApp;
let api: Api;
let adminToken: string;
let memberId: string;
let memberSession: string;
let memberToken: string;

async function login(email: string): Promise<string> {
  const res = await api('POST', '/v1/auth/token', { body: { email, password: PASSWORD } });
  expect(res.status, res.body).toBe(200);
  return res.json<{ access_token: string }>().access_token;
}

async function adminKey(scopes: string[]): Promise<string> {
  const res = await api('POST', '/v1/api-keys', {
    token: adminToken,
    body: { name: scopes.join(' '), scopes },
  });
  expect(res.status, res.body).toBe(201);
  return res.json<{ secret: string }>().secret;
}

async function sessionsOfMember(token: string) {
  return api('GET', `/v1/users/${memberId}/sessions`, { token });
}

beforeAll(async () => {
  t = await startTestApp();
  api = apiClient(t.app.http);
  const org = await api('POST', '/v1/organizations', {
    token: ADMIN_KEY,
    body: { name: 'scoped' },
  });
  const organizationId = org.json<{ id: string }>().id;
  for (const role of ['admin', 'member']) {
    const user = await api('POST', '/v1/users', {
      token: ADMIN_KEY,
      body: {
        email: `${role}@scoped.test`,
        password: PASSWORD,
        role,
        organization_id: organizationId,
      },
    });
    expect(user.status, user.body).toBe(201);
    if (role === 'member') memberId = user.json<{ id: string }>().id;
  }
  adminToken = await login('admin@scoped.test');
  memberToken = await login('member@scoped.test');
  const listed = await sessionsOfMember(adminToken);
  expect(listed.status, listed.body).toBe(200);
  memberSession = listed.json<{ data: { id: string }[] }>().data[0]?.id ?? '';
}, 60_000);

afterAll(async () => {
  await t.close();
});

describe('session routes check the credential’s scopes', () => {
  it('an admin key without api_keys:write can neither list nor revoke sessions', async () => {
    const reader = await adminKey(['models:read']);
    const list = await sessionsOfMember(reader);
    expect(list.status).toBe(403);
    expect(list.json().error).toMatchObject({
      code: 'FORBIDDEN',
      message: 'This credential lacks the api_keys:write scope',
    });
    const revoke = await api('DELETE', `/v1/sessions/${memberSession}`, { token: reader });
    expect(revoke.status).toBe(403);
    expect((await api('GET', '/v1/models', { token: memberToken })).status).toBe(200);
  });

  it('an admin key with api_keys:write manages the organization’s sessions', async () => {
    const manager = await adminKey(['api_keys:write']);
    expect((await sessionsOfMember(manager)).status).toBe(200);
    const revoke = await api('DELETE', `/v1/sessions/${memberSession}`, { token: manager });
    expect(revoke.status, revoke.body).toBe(200);
    expect((await api('GET', '/v1/models', { token: memberToken })).status).toBe(401);
  });

  it('a signed-in member still sees their own sessions', async () => {
    const token = await login('member@scoped.test');
    expect((await sessionsOfMember(token)).status).toBe(200);
  });
});
