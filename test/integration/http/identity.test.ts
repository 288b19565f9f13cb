import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestApp, type TestApp } from '../../support/app.js';
import { apiClient, type Api } from '../../support/client.js';

let t: TestApp;
let api: Api;

const PASSWORD = 'correct horse battery staple';
type Json = Record<string, unknown>;

interface Org {
  orgId: string;
  adminId: string;
  adminToken: string;
  memberId: string;
  memberToken: string;
  memberRefresh: string;
  viewerId: string;
  viewerToken: string;
}

async function login(email: string, password = PASSWORD) {
  const res = await api('POST', '/v1/auth/token', { body: { email, password } });
  expect(res.status, res.body).toBe(200);
  return res.json<{
    access_token: string;
    refresh_token: string;
    expires_in: number;
    token_type: string;
  }>();
}

async function createUser(token: string, body: Json) {
  const res = await api('POST', '/v1/users', { token, body: { password: PASSWORD, ...body } });
  expect(res.status, res.body).toBe(201);
  return res.json<{ id: string }>();
}

async function setUpOrganization(name: string): Promise<Org> {
  const org = await api('POST', '/v1/organizations', { token: ADMIN_KEY, body: { name } });
  expect(org.status, org.body).toBe(201);
  const orgId = org.json<{ id: string }>().id;
  const admin = await createUser(ADMIN_KEY, {
    email: `admin@${name}.test`,
    role: 'admin',
    organization_id: orgId,
  });
  const adminToken = (await login(`admin@${name}.test`)).access_token;
  const member = await createUser(adminToken, { email: `member@${name}.test`, role: 'member' });
  const viewer = await createUser(adminToken, { email: `viewer@${name}.test`, role: 'viewer' });
  const memberPair = await login(`member@${name}.test`);
  return {
    orgId,
    adminId: admin.id,
    adminToken,
    memberId: member.id,
    memberToken: memberPair.access_token,
    memberRefresh: memberPair.refresh_token,
    viewerId: viewer.id,
    viewerToken: (await login(`viewer@${name}.test`)).access_token,
  };
}

/** Every row the tests could have changed, as the platform admin sees it. */
async function snapshot(org: Org) {
  const users = await api('GET', `/v1/users?organization_id=${org.orgId}&limit=100`, {
    token: ADMIN_KEY,
  });
  const keys = await api('GET', '/v1/api-keys?limit=100', { token: org.adminToken });
  // last_used_at is written in the background after a key is used; it is not what is compared.
  const keyRows = keys.json<{ data: Json[] }>().data.map(({ last_used_at: _, ...key }) => key);
  return JSON.stringify([users.json().data, keyRows]);
}

let a: Org;
let b: Org;
beforeAll(async () => {
  t = await startTestApp();
  api = apiClient(t.app.http);
  a = await setUpOrganization('acme');
  b = await setUpOrganization('globex');
}, 60_000);
afterAll(async () => {
  await t.close();
});

describe('sign-in, refresh and logout', () => {
  it('issues a bearer pair with a 15-minute ES256 access token and no-store', async () => {
    const res = await api('POST', '/v1/auth/token', {
      body: { email: 'member@acme.test', password: PASSWORD },
    });
    expect(res.headers['cache-control']).toBe('no-store');
    const pair = res.json<{ access_token: string; token_type: string; expires_in: number }>();
    expect(pair.token_type).toBe('Bearer');
    expect(pair.expires_in).toBe(900);
    const header = JSON.parse(
      Buffer.from(pair.access_token.split('.')[0] as string, 'base64url').toString(),
    );
    expect(header.alg).toBe('ES256');
    const jwks = (await api('GET', '/.well-known/jwks.json')).json<{ keys: Json[] }>();
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
    expect(jwks.keys.every((k) => !('d' in k))).toBe(true);
  });

  it('answers a wrong password and an unknown email identically', async () => {
    const wrong = await api('POST', '/v1/auth/token', {
      body: { email: 'member@acme.test', password: 'not the password' },
    });
    const unknown = await api('POST', '/v1/auth/token', {
      body: { email: 'nobody@acme.test', password: 'not the password' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json().error).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'Invalid email or password',
    });
    expect(unknown.json().error).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'Invalid email or password',
    });
  });

  it('rotates refresh tokens; reusing a spent one revokes the whole session', async () => {
    const first = await login('member@acme.test');
    const second = await api('POST', '/v1/auth/refresh', {
      body: { refresh_token: first.refresh_token },
    });
    expect(second.status).toBe(200);
    const rotated = second.json<{ access_token: string; refresh_token: string }>();
    expect(rotated.refresh_token).not.toBe(first.refresh_token);
    expect((await api('GET', '/v1/models', { token: rotated.access_token })).status).toBe(200);

    const replay = await api('POST', '/v1/auth/refresh', {
      body: { refresh_token: first.refresh_token },
    });
    expect(replay.status).toBe(401);
    // The family is gone: the newest refresh token and the live access token stop working.
    expect(
      (await api('POST', '/v1/auth/refresh', { body: { refresh_token: rotated.refresh_token } }))
        .status,
    ).toBe(401);
    expect((await api('GET', '/v1/models', { token: rotated.access_token })).status).toBe(401);
  });

  it('logout revokes the access token at once, not at expiry', async () => {
    const pair = await login('member@acme.test');
    expect((await api('GET', '/v1/models', { token: pair.access_token })).status).toBe(200);
    expect((await api('POST', '/v1/auth/logout', { token: pair.access_token })).status).toBe(204);
    expect((await api('GET', '/v1/models', { token: pair.access_token })).status).toBe(401);
    expect(
      (await api('POST', '/v1/auth/refresh', { body: { refresh_token: pair.refresh_token } }))
        .status,
    ).toBe(401);
  });

  it('logout with an API key is forbidden', async () => {
    expect((await api('POST', '/v1/auth/logout', { token: ADMIN_KEY })).status).toBe(403);
  });

  it('rejects bad access tokens', async () => {
    const [h, p, s] = a.memberToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${s}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    for (const token of [
      'not-a-token',
      'a.b.c',
      tampered,
      none,
      `${h}.${p}.${s.slice(0, -4)}AAAA`,
    ]) {
      const res = await api('GET', '/v1/models', { token });
      expect(res.status, token).toBe(401);
    }
  });

  it('slows and then refuses repeated failed logins with Retry-After', async () => {
    await createUser(a.adminToken, { email: 'target@acme.test' });
    // From an address of its own, so the address limit does not spill into other tests.
    const remoteAddress = '203.0.113.7';
    let refused: Awaited<ReturnType<Api>> | undefined;
    for (let i = 0; i < 12 && !refused; i += 1) {
      const res = await api('POST', '/v1/auth/token', {
        body: { email: 'target@acme.test', password: `wrong-${i}` },
        remoteAddress,
      });
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(401);
    }
    expect(refused?.json().error).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    // While throttled even the right password is refused from that address: guessing gains
    // nothing there. From elsewhere the owner still signs in (client-address.test.ts).
    expect(
      (
        await api('POST', '/v1/auth/token', {
          body: { email: 'target@acme.test', password: PASSWORD },
          remoteAddress,
        })
      ).status,
    ).toBe(429);
  });
});

describe('roles and scopes', () => {
  it('a viewer cannot create completions; a member can', async () => {
    const body = { model: 'tiny-wordnet', prompt: 'Hello', max_tokens: 2 };
    expect((await api('POST', '/v1/completions', { token: a.viewerToken, body })).status).toBe(403);
    expect((await api('POST', '/v1/completions', { token: a.memberToken, body })).status).toBe(200);
  });

  it('members cannot manage users', async () => {
    const before = await snapshot(a);
    expect(
      (
        await api('POST', '/v1/users', {
          token: a.memberToken,
          body: { email: 'x@acme.test', password: PASSWORD },
        })
      ).status,
    ).toBe(403);
    expect((await api('GET', '/v1/users', { token: a.memberToken })).status).toBe(403);
    expect(
      (
        await api('PATCH', `/v1/users/${a.viewerId}`, {
          token: a.memberToken,
          body: { role: 'admin' },
        })
      ).status,
    ).toBe(403);
    expect(await snapshot(a)).toBe(before);
  });

  it('an admin cannot change their own role', async () => {
    const res = await api('PATCH', `/v1/users/${a.adminId}`, {
      token: a.adminToken,
      body: { role: 'viewer' },
    });
    expect(res.status).toBe(403);
  });

  it('an admin cannot create users in another organization', async () => {
    const before = await snapshot(b);
    const res = await api('POST', '/v1/users', {
      token: a.adminToken,
      body: { email: 'spy@globex.test', password: PASSWORD, organization_id: b.orgId },
    });
    expect(res.status).toBe(403);
    expect(await snapshot(b)).toBe(before);
  });

  it('only platform admins manage organizations', async () => {
    expect(
      (await api('POST', '/v1/organizations', { token: a.adminToken, body: { name: 'mine' } }))
        .status,
    ).toBe(403);
    expect((await api('GET', '/v1/organizations', { token: a.adminToken })).status).toBe(403);
  });

  it('a key never holds more than its creator', async () => {
    const res = await api('POST', '/v1/api-keys', {
      token: a.memberToken,
      body: { name: 'too much', scopes: ['models:read', 'users:write'] },
    });
    expect(res.status).toBe(403);
    const generous = await api('POST', '/v1/api-keys', {
      token: a.memberToken,
      body: {
        name: 'fast',
        scopes: ['models:read'],
        rate_limit: { requests_per_minute: 1_000_000, tokens_per_minute: 1 },
      },
    });
    expect(generous.status).toBe(403);
  });

  it('scoped keys work, are shown once, and can be revoked', async () => {
    const created = await api('POST', '/v1/api-keys', {
      token: a.memberToken,
      body: { name: 'reader', scopes: ['models:read'] },
    });
    expect(created.status, created.body).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const key = created.json<{ id: string; secret: string; prefix: string; scopes: string[] }>();
    expect(key.secret).toMatch(/^sk-[^_]+_.+$/);
    expect(key.secret.startsWith(`sk-${key.prefix}_`)).toBe(true);
    expect((await api('GET', '/v1/models', { token: key.secret })).status).toBe(200);
    expect(
      (
        await api('POST', '/v1/completions', {
          token: key.secret,
          body: { model: 'tiny-wordnet', prompt: 'x' },
        })
      ).status,
    ).toBe(403);
    const shown = await api('GET', `/v1/api-keys/${key.id}`, { token: a.memberToken });
    expect(shown.json()).not.toHaveProperty('secret');
    expect(shown.body).not.toContain(key.secret.split('_').slice(1).join('_'));
    expect((await api('DELETE', `/v1/api-keys/${key.id}`, { token: a.memberToken })).status).toBe(
      200,
    );
    expect((await api('GET', '/v1/models', { token: key.secret })).status).toBe(401);
  });

  it('deleting a user ends their sessions and keys at once', async () => {
    const doomed = await createUser(a.adminToken, { email: 'doomed@acme.test' });
    const pair = await login('doomed@acme.test');
    const key = (
      await api('POST', '/v1/api-keys', {
        token: pair.access_token,
        body: { name: 'k', scopes: ['models:read'] },
      })
    ).json<{ secret: string }>();
    expect((await api('DELETE', `/v1/users/${doomed.id}`, { token: a.adminToken })).status).toBe(
      200,
    );
    expect((await api('GET', '/v1/models', { token: pair.access_token })).status).toBe(401);
    expect((await api('GET', '/v1/models', { token: key.secret })).status).toBe(401);
    expect(
      (await api('POST', '/v1/auth/refresh', { body: { refresh_token: pair.refresh_token } }))
        .status,
    ).toBe(401);
  });
});

describe('tenant isolation over HTTP', () => {
  it('another organization’s resources are 404, for reads, writes and deletes', async () => {
    const beforeA = await snapshot(a);
    const beforeB = await snapshot(b);
    const bKey = (
      await api('POST', '/v1/api-keys', {
        token: b.memberToken,
        body: { name: 'b', scopes: ['models:read'] },
      })
    ).json<{ id: string }>();
    const afterKeyB = await snapshot(b);
    for (const [method, url, body] of [
      ['GET', `/v1/users/${b.memberId}`, undefined],
      ['PATCH', `/v1/users/${b.memberId}`, { role: 'viewer' }],
      ['DELETE', `/v1/users/${b.memberId}`, undefined],
      ['GET', `/v1/users/${b.memberId}/sessions`, undefined],
      ['GET', `/v1/api-keys/${bKey.id}`, undefined],
      ['DELETE', `/v1/api-keys/${bKey.id}`, undefined],
    ] as const) {
      const res = await api(method, url, { token: a.adminToken, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.json().error).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect(await snapshot(a)).toBe(beforeA);
    expect(await snapshot(b)).toBe(afterKeyB);
    expect(beforeB).not.toBe(afterKeyB);
  });

  it('lists only the own organization', async () => {
    const users = (await api('GET', '/v1/users?limit=100', { token: a.adminToken })).json<{
      data: { organization_id: string }[];
    }>();
    expect(users.data.length).toBeGreaterThan(2);
    expect(users.data.every((u) => u.organization_id === a.orgId)).toBe(true);
    expect(
      (await api('GET', `/v1/users?organization_id=${b.orgId}`, { token: a.adminToken })).status,
    ).toBe(403);
  });
});

describe('lists, conflicts, caching and idempotency', () => {
  it('pages users with signed cursors; forged and malformed ones are 422', async () => {
    const first = (await api('GET', '/v1/users?limit=2', { token: a.adminToken })).json<{
      data: { id: string }[];
      pagination: { cursor: string; has_more: boolean };
    }>();
    expect(first.pagination.has_more).toBe(true);
    const second = (
      await api('GET', `/v1/users?limit=2&cursor=${first.pagination.cursor}`, {
        token: a.adminToken,
      })
    ).json<{ data: { id: string }[] }>();
    expect(second.data[0]?.id).not.toBe(first.data[0]?.id);
    const cursor = first.pagination.cursor;
    const forged = cursor.slice(0, -2) + (cursor.endsWith('A') ? 'BB' : 'AA');
    for (const bad of [forged, 'garbage', cursor.slice(0, 10)]) {
      const res = await api('GET', `/v1/users?limit=2&cursor=${encodeURIComponent(bad)}`, {
        token: a.adminToken,
      });
      expect(res.status).toBe(422);
      expect(res.json().error).toMatchObject({ param: 'cursor' });
    }
    // A cursor of one list is not accepted by another.
    expect(
      (await api('GET', `/v1/api-keys?cursor=${cursor}`, { token: a.adminToken })).status,
    ).toBe(422);
  });

  it('a duplicate email is 409 and a short password 422, writing nothing', async () => {
    const before = await snapshot(a);
    const dup = await api('POST', '/v1/users', {
      token: a.adminToken,
      body: { email: 'MEMBER@acme.test', password: PASSWORD },
    });
    expect(dup.status).toBe(409);
    const short = await api('POST', '/v1/users', {
      token: a.adminToken,
      body: { email: 'short@acme.test', password: 'elevenchars' },
    });
    expect(short.status).toBe(422);
    expect(short.json().error).toMatchObject({ param: 'password' });
    expect(await snapshot(a)).toBe(before);
  });

  it('ETag and 304 on a user', async () => {
    const res = await api('GET', `/v1/users/${a.memberId}`, { token: a.adminToken });
    const again = await api('GET', `/v1/users/${a.memberId}`, {
      token: a.adminToken,
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    expect(again.status).toBe(304);
  });

  it('Idempotency-Key replays the first response and acts once under concurrency', async () => {
    const headers = { 'idempotency-key': 'create-initech-1' };
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        api('POST', '/v1/organizations', { token: ADMIN_KEY, body: { name: 'initech' }, headers }),
      ),
    );
    const created = results.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const ids = new Set(created.map((r) => r.json().id));
    expect(ids.size).toBe(1);
    const replay = await api('POST', '/v1/organizations', {
      token: ADMIN_KEY,
      body: { name: 'initech' },
      headers,
    });
    expect(replay.status).toBe(201);
    expect(replay.json().id).toBe([...ids][0]);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const mismatch = await api('POST', '/v1/organizations', {
      token: ADMIN_KEY,
      body: { name: 'other' },
      headers,
    });
    expect(mismatch.status).toBe(422);
    expect(mismatch.json().error).toMatchObject({ param: 'Idempotency-Key' });
    const orgs = (await api('GET', '/v1/organizations?limit=100', { token: ADMIN_KEY })).json<{
      data: { name: string }[];
    }>();
    expect(orgs.data.filter((o) => o.name === 'initech')).toHaveLength(1);
  });
});
