import { expect } from 'vitest';
import { ADMIN_KEY } from './app.js';
import type { Api } from './client.js';

export const TENANT_PASSWORD = 'tenant test password';

export interface Tenant {
  organizationId: string;
  userId: string;
  accessToken: string;
}

/** An organization with one member, signed in. */
export async function createTenant(api: Api, name: string, role = 'member'): Promise<Tenant> {
  const org = await api('POST', '/v1/organizations', { token: ADMIN_KEY, body: { name } });
  expect(org.status, org.body).toBe(201);
  const email = `${role}@${name}.test`;
  const user = await api('POST', '/v1/users', {
    token: ADMIN_KEY,
    body: { email, password: TENANT_PASSWORD, role, organization_id: org.json().id },
  });
  expect(user.status, user.body).toBe(201);
  const login = await api('POST', '/v1/auth/token', { body: { email, password: TENANT_PASSWORD } });
  expect(login.status, login.body).toBe(200);
  return {
    organizationId: org.json<{ id: string }>().id,
    userId: user.json<{ id: string }>().id,
    accessToken: login.json<{ access_token: string }>().access_token,
  };
}

/** A key of the tenant's member with its own limits. */
export async function createKey(
  api: Api,
  tenant: Tenant,
  rateLimit: { requests_per_minute: number; tokens_per_minute: number },
  scopes = ['models:read', 'completions:write'],
): Promise<string> {
  const res = await api('POST', '/v1/api-keys', {
    token: tenant.accessToken,
    body: { name: 'limited', scopes, rate_limit: rateLimit },
  });
  expect(res.status, res.body).toBe(201);
  return res.json<{ secret: string }>().secret;
}
